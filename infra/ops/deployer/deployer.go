// Package deployer puts the project's CloudFormation stack into an AWS
// account and looks after it: it builds and packages the functions and the
// QScanner layer, uploads them with the template, creates or updates the
// stack while showing its events, replaces function code, tails the logs,
// reports status, verifies a deployment end to end and deletes the stack.
//
// The operator CLI (handlers/ecrscan) is a thin layer over it; the Makefile's
// deploy, update, logs, status, verify and destroy targets call that CLI.
// Every AWS call goes through the small interfaces in clients.go, so the same
// code runs against AWS and against an emulator (AWS_ENDPOINT_URL). What an
// emulator cannot do is its own to say (Emulator); this package holds no
// emulator knowledge.
package deployer

import (
	"ecrscanner/infra/clock"

	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"ecrscanner/infra/ops/stack"
)

// DefaultStackName is the stack name when STACK_NAME is not set, as in the
// seed's Makefile.
const DefaultStackName = "qualys-ecr-scanner"

// Options configure a Deployer.
type Options struct {
	// Region is the AWS region of the clients; it names the artifacts bucket
	// and the template URL.
	Region string
	// Out receives progress and results meant for a person. Nil discards them.
	Out io.Writer
	// PollInterval is how often stack events, function updates and logs are
	// polled. Zero means five seconds.
	PollInterval time.Duration
	// Emulator is set when the clients talk to a local emulator instead of
	// AWS (moto, through AWS_ENDPOINT_URL); nil means AWS. Checks that need
	// AWS itself or the Qualys platform are then skipped with the reason
	// instead of failing.
	Emulator Emulator
}

// Deployer deploys and operates one project stack at a time. It is not safe
// for concurrent use.
type Deployer struct {
	c    Clients
	out  io.Writer
	poll time.Duration
	reg  string
	emu  Emulator
}

// New returns a Deployer. Every client must be set.
func New(c Clients, opts Options) (*Deployer, error) {
	var missing []string
	for _, x := range []struct {
		name string
		nil  bool
	}{
		{"CloudFormation", c.CloudFormation == nil}, {"S3", c.S3 == nil}, {"Lambda", c.Lambda == nil},
		{"Logs", c.Logs == nil}, {"Pipes", c.Pipes == nil}, {"Events", c.Events == nil},
		{"Secrets", c.Secrets == nil}, {"Identity", c.Identity == nil},
	} {
		if x.nil {
			missing = append(missing, x.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("deployer: nil clients: %s", strings.Join(missing, ", "))
	}
	if opts.Region == "" {
		return nil, errors.New("deployer: no region")
	}
	d := &Deployer{c: c, out: opts.Out, poll: opts.PollInterval, reg: opts.Region, emu: opts.Emulator}
	if d.out == nil {
		d.out = io.Discard
	}
	if d.poll <= 0 {
		d.poll = 5 * time.Second
	}
	return d, nil
}

func (d *Deployer) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// sleep waits one poll interval, or until ctx ends.
func (d *Deployer) sleep(ctx context.Context) error {
	return clock.Sleep(ctx, d.poll)
}

// ErrStackNotFound is returned when the named stack does not exist.
var ErrStackNotFound = stack.ErrNotFound

// describeStack reads a stack's status, parameters and outputs. It returns
// an error wrapping ErrStackNotFound when there is no such stack.
func (d *Deployer) describeStack(ctx context.Context, name string) (*stack.Deployed, error) {
	return stack.DescribeStatus(ctx, d.c.CloudFormation, name)
}

// inspect describes the stack fully: status, parameters, outputs, resources
// and the template it runs.
func (d *Deployer) inspect(ctx context.Context, name string) (*stack.Deployed, error) {
	s, err := stack.Describe(ctx, d.c.CloudFormation, name, nil)
	if err != nil {
		return nil, err
	}
	s.ReadTemplate(ctx, d.c.CloudFormation)
	return s, nil
}

// notFound reports whether err says the thing asked for does not exist, in
// any of the ways the services used here say it.
func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchBucket", "NoSuchTagSet", "ResourceNotFoundException", "NotFoundException":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// httpStatus returns the HTTP status of a failed AWS call, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
