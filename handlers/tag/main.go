// Command tag is the tag function: scan events from the image-scans bus in,
// scan labels on each repository and a summary artifact attached to each
// image out.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/startup"
)

func main() { startup.Events("tag", build) }

// build wires the handler. REGISTRY_ENDPOINT (tests and local runs only)
// sends the summary artifacts to another registry, anonymously.
func build(_ context.Context, d startup.Deps) (startup.EventConsumer, error) {
	client := ecr.NewFromConfig(d.AWS)
	tagger, err := ecrstore.NewTagger(client)
	d.Env.Check(err)
	rcfg := ecrstore.ReferrersConfig{Endpoint: d.Env.String("REGISTRY_ENDPOINT", "")}
	referrers, err := ecrstore.NewReferrers(client, rcfg)
	d.Env.Check(err)
	registryTagger, registryReferrers := organize(d, tagger, referrers, rcfg) // registry.go
	return NewHandler(registryTagger, registryReferrers, d.Logger)
}
