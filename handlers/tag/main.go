// Command tag is the tag function: scan events from the image-scans bus in,
// scan labels on each repository and a summary artifact attached to each
// image out.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ecrstore"
)

func main() { consume.RunDownstream("tag", build) }

// build wires the handler. REGISTRY_ENDPOINT (tests and local runs only)
// sends the summary artifacts to another registry, anonymously.
func build(_ context.Context, d consume.Deps) (consume.EventHandler, error) {
	client := ecr.NewFromConfig(d.AWS)
	tagger, err := ecrstore.NewTagger(client)
	if err != nil {
		return nil, err
	}
	referrers, err := ecrstore.NewReferrers(client, ecrstore.ReferrersConfig{Endpoint: d.Env.String("REGISTRY_ENDPOINT", "")})
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(tagger, referrers, d.Logger)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
