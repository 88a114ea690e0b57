package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/probe"
)

// probeFlags are verify's --probe settings.
type probeFlags struct {
	on, keep   bool
	timeout    time.Duration
	repository string
}

// runProbe pushes the probe image with the operator's credentials and
// follows it through the stack. Against moto (an overridden endpoint) there
// is no ECR registry to push to from here: the local stack's stand-in lives
// in the process that runs it, and the tests run the probe there.
func runProbe(ctx context.Context, stackName string, f probeFlags) (probe.Report, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return probe.Report{}, err
	}
	if cfg.BaseEndpoint != nil {
		return probe.Report{}, errors.New("--probe needs AWS: against moto the probe runs inside the local stack's tests (go test ./infra/ops/probe)")
	}
	p, err := probe.New(probe.NewClients(cfg), &probe.ECRRegistry{Client: ecr.NewFromConfig(cfg)}, probe.Options{
		StackName: stackName, Repository: f.repository, Timeout: f.timeout, Keep: f.keep,
	})
	if err != nil {
		return probe.Report{}, err
	}
	return p.Run(ctx)
}

// renderVerify writes the checks and, when there was a probe, its stages:
// as tables, or as one JSON document for machines.
func renderVerify(w io.Writer, asJSON bool, checks deployer.Report, pr *probe.Report) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Checks []deployer.Check `json:"checks"`
			Probe  *probe.Report    `json:"probe,omitempty"`
			Failed bool             `json:"failed"`
		}{checks.Checks, pr, checks.Failed() || (pr != nil && pr.Failed())})
	}
	if err := checks.Render(w); err != nil {
		return err
	}
	if pr == nil {
		return nil
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return pr.Render(w)
}
