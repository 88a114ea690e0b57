package main

import (
	"context"

	"ecrscanner/infra/qscanner"
	"ecrscanner/infra/tracing"
)

// tracedTokens records each Qualys token fetch (a Secrets Manager read, or a
// cache hit) as a "token fetch" span; the runner asks inside its own run, so
// the span sits under "qscanner run".
type tracedTokens struct{ qscanner.TokenSource }

func traceTokens(ts qscanner.TokenSource) qscanner.TokenSource {
	if ts == nil {
		return nil // NewRunner reports the missing source
	}
	return tracedTokens{ts}
}

func (t tracedTokens) Token(ctx context.Context) (string, error) {
	ctx, span := tracing.Start(ctx, "token fetch")
	tok, err := t.TokenSource.Token(ctx)
	span.End(err)
	return tok, err
}
