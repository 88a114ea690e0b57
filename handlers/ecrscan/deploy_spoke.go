package main

import (
	"context"
	"io"
	"os"

	"ecrscanner/infra/ops/deployer"
)

func init() {
	register("deploy-spoke", command{
		usage: "create or update the spoke stack (spoke.yaml) in a member account and region (make deploy-spoke)",
		run:   runDeploySpoke,
	})
}

const deploySpokeHelp = `usage: ecrscan deploy-spoke --hub-account ID --hub-region REGION [flags]

Run with a member account's credentials (AWS_PROFILE, AWS_REGION): creates or
updates the spoke stack there, which forwards that region's ECR pushes to the
hub's ingress bus and, in the hub's region only, creates the role the hub
assumes to read the account's images and write the scanner's tags. Run it once
per region the account pushes images in; for a whole organization use the
StackSet commands in README, "Organization". Prints the stack's events and
outputs.

flags:
`

func runDeploySpoke(args []string, stdout, stderr io.Writer) int {
	fs := opsFlags("deploy-spoke", stderr, deploySpokeHelp)
	hubStack := opsStackFlag(fs)
	var o deployer.SpokeOptions
	fs.StringVar(&o.HubAccount, "hub-account", os.Getenv("HUB_ACCOUNT"), "the hub's account ID ($HUB_ACCOUNT)")
	fs.StringVar(&o.HubRegion, "hub-region", os.Getenv("HUB_REGION"), "the hub's region ($HUB_REGION)")
	fs.StringVar(&o.StackName, "spoke-stack", os.Getenv("SPOKE_STACK_NAME"), "the spoke stack's name (default <stack>-spoke)")
	fs.StringVar(&o.HubEventBus, "hub-bus", "", "the hub's ingress bus name (default <stack>-ingress)")
	fs.StringVar(&o.RoleName, "role", os.Getenv("SPOKE_ROLE_NAME"), "the spoke role's name, the hub's SpokeRoleName ($SPOKE_ROLE_NAME; default qualys-ecr-scanner-spoke)")
	if code, done := parseOpsFlags(fs, args); done {
		return code
	}
	o.HubStackName = *hubStack
	return withDeployer("deploy-spoke", stdout, stderr, func(ctx context.Context, d *deployer.Deployer, _ string) error {
		_, err := d.DeploySpoke(ctx, o)
		return err
	})
}
