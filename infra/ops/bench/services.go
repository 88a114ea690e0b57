package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

var servicePkg = regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/service/[a-z0-9]+$`)

// linkedServices lists the AWS SDK service packages pkg links, by short
// name (dynamodb, s3, …).
func linkedServices(ctx context.Context, root, pkg string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-tags", "lambda.norpc", "-f", `{{join .Deps "\n"}}`, pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", pkg, err)
	}
	var svc []string
	for _, d := range strings.Fields(string(out)) {
		if servicePkg.MatchString(d) {
			svc = append(svc, strings.TrimPrefix(d, "github.com/aws/aws-sdk-go-v2/service/"))
		}
	}
	return svc, nil
}

// extraServices lists what the function links beyond its floor: service
// packages it never builds a client of, pulled in by shared start-up code.
// An error, or a floor linking something the function does not, is said
// in the text.
func (b *bench) extraServices(ctx context.Context, fn string) string {
	floor, err1 := linkedServices(ctx, b.root, floorPkg(fn))
	own, err2 := linkedServices(ctx, b.root, "./handlers/"+fn)
	if err := firstErr(err1, err2); err != nil {
		return err.Error()
	}
	extra, missing := difference(own, floor), difference(floor, own)
	if len(missing) > 0 {
		return fmt.Sprintf("the floor links %s, which the function does not: the floor is stale", strings.Join(missing, " "))
	}
	return strings.Join(extra, " ")
}

// difference is a minus b.
func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}
