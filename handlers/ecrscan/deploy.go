package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/deployer"
	"ecrscanner/infra/ops/modroot"
	"ecrscanner/infra/ops/motocompat"
)

func init() {
	register("deploy", command{
		usage: "build, upload and create or update the stack (make deploy)",
		run:   runDeploy,
	})
	register("update", command{
		usage: "replace the functions' code in the deployed stack (make update)",
		run:   runUpdate,
	})
	register("logs", command{
		usage: "tail the functions' logs (make logs, FUNCTION=scan for one)",
		run:   runLogs,
	})
	register("stack-status", command{
		usage: "show the stack's status, resources and outputs (make status)",
		run:   runStackStatus,
	})
	register("destroy", command{
		usage: "empty the stack's deletable buckets and delete the stack (make destroy)",
		run:   runDestroy,
	})
}

const deployHelp = `usage: ecrscan deploy [flags]

Builds every function for provided.al2023, packages the QScanner layer from
the binary you downloaded, uploads both and the template to the artifacts
bucket (<stack>-artifacts-<account>-<region>, created if missing) and creates
or updates the stack, showing its events until it settles.

Stack parameters come from the environment. An unset variable keeps the
deployed value (or the template default on the first deploy); a set one,
even to the empty string, replaces it:
%s
The token is never printed. Give QUALYS_ACCESS_TOKEN (stored in a new secret)
or QUALYS_TOKEN_SECRET_ARN (an existing secret), not both.

Other settings: STACK_NAME, QSCANNER_LAYER_BIN (default build/layer/bin/qscanner),
ARTIFACTS_BUCKET, ARTIFACTS_PREFIX, AWS_REGION / AWS_PROFILE, AWS_ENDPOINT_URL (moto).

flags:
`

func runDeploy(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("deploy", stderr, fmt.Sprintf(deployHelp, parameterHelp()))
	stackName := opsStackFlag(fs)
	qscanner := fs.String("qscanner", os.Getenv("QSCANNER_LAYER_BIN"), "QScanner binary for the layer (default build/layer/bin/qscanner; $QSCANNER_LAYER_BIN)")
	bucket := fs.String("bucket", os.Getenv("ARTIFACTS_BUCKET"), "artifacts bucket (default <stack>-artifacts-<account>-<region>; $ARTIFACTS_BUCKET)")
	prefix := fs.String("prefix", os.Getenv("ARTIFACTS_PREFIX"), "artifacts key prefix (default "+deployer.DefaultArtifactsPrefix+"; $ARTIFACTS_PREFIX)")
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	return withDeployer("deploy", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, root string) error {
		_, err := d.Deploy(ctx, deployer.DeployInput{
			StackName:       *stackName,
			ModuleRoot:      root,
			QScannerBinary:  *qscanner,
			ArtifactsBucket: *bucket,
			ArtifactsPrefix: *prefix,
		})
		return err
	})
}

func runUpdate(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("update", stderr, "usage: ecrscan update [flags]\n\nRebuilds the functions and replaces their code with UpdateFunctionCode,\neach for the architecture it is deployed with. The stack, its parameters and\nthe QScanner layer stay as they are (use deploy for those).\n\nflags:\n")
	stackName := opsStackFlag(fs)
	functions := fs.String("function", os.Getenv("FUNCTION"), "comma-separated functions to update (scan, enrich, archive, tag, alert); default all ($FUNCTION)")
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	return withDeployer("update", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, root string) error {
		_, err := d.Update(ctx, deployer.UpdateInput{StackName: *stackName, ModuleRoot: root, Functions: splitFunctions(*functions)})
		return err
	})
}

func runLogs(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("logs", stderr, "usage: ecrscan logs [flags]\n\nPrints the functions' log events, oldest first, and keeps following them\nuntil interrupted.\n\nflags:\n")
	stackName := opsStackFlag(fs)
	function := fs.String("function", os.Getenv("FUNCTION"), "one function: scan, enrich, archive, tag or alert; default all ($FUNCTION)")
	since := fs.Duration("since", 10*time.Minute, "start this far back")
	follow := fs.Bool("follow", true, "keep polling for new events")
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	return withDeployer("logs", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, _ string) error {
		return d.Logs(ctx, deployer.LogsInput{StackName: *stackName, Function: *function, Since: *since, Follow: *follow})
	})
}

func runStackStatus(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("stack-status", stderr, "usage: ecrscan stack-status [flags]\n\nShows the stack's status, its resources and its outputs.\n\nflags:\n")
	stackName := opsStackFlag(fs)
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	return withDeployer("stack-status", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, _ string) error {
		s, err := d.Status(ctx, *stackName)
		if err != nil {
			return err
		}
		return deployer.RenderStatus(stdout, s)
	})
}

func runDestroy(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("destroy", stderr, "usage: ecrscan destroy [flags]\n\nEmpties the stack's buckets that CloudFormation would delete (it cannot delete\na non-empty one), deletes the stack and waits, then empties and deletes the\nartifacts bucket deploy created. Resources with DeletionPolicy Retain (the results\nbucket, both tables, the key, the secret and the queues) are kept and listed. Asks first unless --yes (make destroy FORCE=1).\n\nflags:\n")
	stackName := opsStackFlag(fs)
	yes := fs.Bool("yes", false, "do not ask before deleting")
	bucket := fs.String("bucket", os.Getenv("ARTIFACTS_BUCKET"), "artifacts bucket deploy used ($ARTIFACTS_BUCKET)")
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	return withDeployer("destroy", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, _ string) error {
		confirm := func(plan string) (bool, error) { return askYes(destroyStdin, stdout, plan) }
		if *yes {
			confirm = nil
		}
		return d.Destroy(ctx, deployer.DestroyInput{StackName: *stackName, ArtifactsBucket: *bucket, Confirm: confirm})
	})
}

// destroyStdin is where destroy reads its answer; tests replace it.
var destroyStdin io.Reader = os.Stdin

// askYes shows the plan and reads one answer. Only "y" or "yes" agrees; a
// closed or non-interactive input refuses, so a script never deletes by
// accident.
func askYes(in io.Reader, out io.Writer, plan string) (bool, error) {
	fmt.Fprint(out, plan)
	fmt.Fprint(out, "Proceed? [y/N] ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		return false, errors.New("no answer on standard input: run with --yes (make destroy FORCE=1) to delete without asking")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// opsFlags returns a flag set whose -h output starts with help.
func opsFlags(name string, stderr io.Writer, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

func opsStackFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("STACK_NAME")
	if def == "" {
		def = deployer.DefaultStackName
	}
	return fs.String("stack", def, "stack name ($STACK_NAME)")
}

// parseOpsFlags parses the flags; done is true when the command should stop with
// code (help asked for, or a bad flag).
func parseOpsFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "ecrscan %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return 2, true
	}
	return 0, false
}

// withDeployer loads the AWS configuration the SDK's usual way (profile,
// region, AWS_ENDPOINT_URL for moto), builds a Deployer writing to stdout and
// runs fn until it returns or the process is interrupted. moduleRoot is the
// project checkout, or "" outside one (deploy and update then refuse).
func withDeployer(name string, stdout, stderr io.Writer, fn func(ctx context.Context, d *deployer.Deployer, moduleRoot string) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ecrscan %s: %v\n", name, err)
		return 1
	}
	// Building needs the project checkout; the other commands work without.
	root, rootErr := modroot.Find(".")
	if rootErr != nil && (name == "deploy" || name == "update") {
		return fail(rootErr)
	}
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return fail(err)
	}
	// An overridden endpoint is moto (make run, the tests).
	var emu deployer.Emulator
	if cfg.BaseEndpoint != nil {
		emu = motocompat.Emulator{}
	}
	d, err := deployer.New(deployer.NewClients(cfg, emu), deployer.Options{
		Region:   cfg.Region,
		Out:      stdout,
		Emulator: emu,
	})
	if err != nil {
		return fail(err)
	}
	if err := fn(ctx, d, root); err != nil {
		return fail(err)
	}
	return 0
}

func parameterHelp() string {
	var b strings.Builder
	for _, m := range deployer.ParameterEnv {
		fmt.Fprintf(&b, "  %-24s -> %s\n", m.Env, m.Param)
	}
	return b.String()
}

func splitFunctions(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
