package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The AWS Lambda Runtime Interface Emulator, AWS's own local stand-in for
// the Lambda service around one function
// (https://github.com/aws/aws-lambda-runtime-interface-emulator). The Go
// proxy serves it as a pseudo-version; it is installed into a tool folder
// of its own, never into this module's dependencies.
const (
	riePackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// installRIE returns the emulator's path, installing it under the system
// temporary folder the first time (about five minutes on a cold module
// cache; later runs reuse the binary).
func installRIE(ctx context.Context) (string, error) {
	dir := filepath.Join(os.TempDir(), "ecrscanner-bench-tools", rieVersion)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "install", riePackage+"@"+rieVersion)
	// Outside this module, so its go.mod is neither read nor changed.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", riePackage, rieVersion, err, out)
	}
	return bin, nil
}
