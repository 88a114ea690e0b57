package probe

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// LabelRun is the image label (and resource tag) carrying the probe run's ID,
// so that whoever finds a probe image or resource can tell what it is.
const LabelRun = "ecrscan-probe-run"

// Image builds the probe image of one run: a single layer of a few small
// files, one of them a planted fake AWS credential that secret scanning
// reports (so an alert is due). The run ID is in a file and a label, so each
// run's image has a digest of its own and a second run never meets the
// first's record. The credential is random, made here: no key-shaped literal
// sits in the source for the project's own scanners to trip on, and it is
// valid for nothing.
func Image(runID string) (v1.Image, error) {
	keyID, secret := fakeCredential()
	files := []struct{ name, body string }{
		{"probe/README.txt", "ecrscan verify --probe image, run " + runID + ". It holds nothing of value and is deleted after the run.\n"},
		{"probe/run-id", runID + "\n"},
		{"probe/.aws/credentials", "[default]\naws_access_key_id = " + keyID + "\naws_secret_access_key = " + secret + "\n"},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// A fixed time keeps the layer's digest a function of the run ID alone.
	mod := time.Unix(0, 0)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, fmt.Errorf("probe image layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("probe image: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{LabelRun: runID}
	cfg.Architecture, cfg.OS = "amd64", "linux"
	return mutate.ConfigFile(img, cfg)
}

// fakeCredential makes an access key ID and secret of AWS's shapes (AKIA and
// 16 upper-case letters or digits; 40 base64-ish characters) from random
// bytes.
func fakeCredential() (keyID, secret string) {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const mixed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	pick := func(alphabet string, n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		return string(b)
	}
	return "AKIA" + pick(upper, 16), pick(mixed, 40)
}
