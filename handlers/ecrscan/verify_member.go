package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/deployer"
)

// memberFlags are verify's flags for checking a member account's spoke
// (verify --member ACCOUNT, with the member's credentials).
type memberFlags struct {
	account string
	spoke   deployer.SpokeOptions
}

func addMemberFlags(fs *flag.FlagSet) *memberFlags {
	m := &memberFlags{}
	fs.StringVar(&m.account, "member", "", "check a member account's spoke instead (run with its credentials): forwarding to the hub and the spoke role's trust")
	fs.StringVar(&m.spoke.HubAccount, "hub-account", os.Getenv("HUB_ACCOUNT"), "with --member: the hub's account ID ($HUB_ACCOUNT)")
	fs.StringVar(&m.spoke.HubRegion, "hub-region", os.Getenv("HUB_REGION"), "with --member: the hub's region ($HUB_REGION)")
	fs.StringVar(&m.spoke.StackName, "spoke-stack", os.Getenv("SPOKE_STACK_NAME"), "with --member: the spoke stack (default <stack>-spoke)")
	fs.StringVar(&m.spoke.RoleName, "role", os.Getenv("SPOKE_ROLE_NAME"), "with --member: the spoke role's name")
	return m
}

// runVerifyMember prints the member's PASS/FAIL/SKIP table; exit 1 on a FAIL.
func runVerifyMember(m *memberFlags, hubStack string, asJSON bool, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return failVerify(stderr, err)
	}
	m.spoke.HubStackName = hubStack
	report, err := deployer.VerifySpoke(ctx, deployer.NewSpokeClients(cfg), m.account, m.spoke, cfg.Region)
	if err != nil {
		return failVerify(stderr, err)
	}
	if err := renderVerify(stdout, asJSON, report, nil); err != nil {
		return failVerify(stderr, err)
	}
	if report.Failed() {
		return 1
	}
	return 0
}

func failVerify(stderr io.Writer, err error) int {
	_, _ = io.WriteString(stderr, "ecrscan verify --member: "+err.Error()+"\n")
	return 1
}
