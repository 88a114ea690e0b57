package deployer

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/infra/ops/stack"
)

// checkQScanner runs `qscanner --help`: the local binary when there is one,
// else the one in the deployed layer zip.
func (d *Deployer) checkQScanner(ctx context.Context, r *Report, s *stack.Deployed, in VerifyInput) {
	tmp, err := os.MkdirTemp("", "ecrscan-verify-")
	if err != nil {
		r.add(CheckQScannerRuns, Fail, "%v", err)
		return
	}
	defer os.RemoveAll(tmp)
	bin, source := in.QScannerBinary, in.QScannerBinary
	if fi, err := os.Stat(bin); bin == "" || err != nil || fi.IsDir() {
		bucket, prefix := s.Params[paramArtifactsBucket], s.Params[paramArtifactsPrefix]
		key := prefix + "/" + layerName + ".zip"
		source = "s3://" + bucket + "/" + key
		bin = filepath.Join(tmp, "qscanner")
		if err := d.extractLayer(ctx, bucket, key, bin); err != nil {
			r.add(CheckQScannerRuns, Fail, "%v", err)
			return
		}
	}
	machine, err := elfMachine(bin)
	if err != nil {
		r.add(CheckQScannerRuns, Fail, "%s is not a Linux executable", source)
		return
	}
	if ok, why := hostRuns(machine); !ok {
		r.add(CheckQScannerRuns, Skip, "cannot run %s here: %s", source, why)
		return
	}
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, bin, "--help")
	// QScanner needs HOME; it gets a scratch one, and no token.
	cmd.Env = []string{"HOME=" + tmp, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin", "DISABLE_QSCANNER_BANNER=yes"}
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	switch {
	case rctx.Err() == context.DeadlineExceeded:
		r.add(CheckQScannerRuns, Fail, "%s --help did not finish within %s", source, timeout)
	case err != nil:
		r.add(CheckQScannerRuns, Fail, "%s --help: %v: %s", source, err, lastLine(out.String()))
	default:
		r.add(CheckQScannerRuns, Pass, "%s --help: %s", source, firstLine(out.String()))
	}
}

// extractLayer downloads the layer zip and writes its bin/qscanner to dst.
func (d *Deployer) extractLayer(ctx context.Context, bucket, key, dst string) error {
	if bucket == "" {
		return errors.New("the stack has no ArtifactsBucket parameter, and no local QScanner binary was given")
	}
	obj, err := d.c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("download s3://%s/%s: %w", bucket, key, err)
	}
	defer obj.Body.Close()
	zipPath := dst + ".zip"
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, obj.Body); err != nil {
		f.Close()
		return fmt.Errorf("download s3://%s/%s: %w", bucket, key, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("s3://%s/%s is not a zip: %w", bucket, key, err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if zf.Name != LayerEntry {
			continue
		}
		if zf.Mode()&0o111 == 0 {
			return fmt.Errorf("s3://%s/%s: %s is not executable (mode %s)", bucket, key, LayerEntry, zf.Mode())
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, rc); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	return fmt.Errorf("s3://%s/%s has no %s: QScanner would be missing at /opt/%s", bucket, key, LayerEntry, LayerEntry)
}
