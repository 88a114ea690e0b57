package deployer

import (
	"context"
	"net/http"
	"time"
)

// The names of Verify's checks, in the order it runs them.
const (
	CheckStack        = "stack"
	CheckResources    = "resources"
	CheckFunctions    = "functions"
	CheckEventSources = "event sources"
	CheckRules        = "bus rules"
	CheckPipe         = "pipe"
	CheckLayer        = "qscanner layer"
	CheckQScannerRuns = "qscanner runs"
	CheckToken        = "qualys token"
	CheckGateway      = "qualys gateway"
)

// VerifyInput says what to verify.
type VerifyInput struct {
	StackName string
	// TokenSecretID names a secret holding the token (QUALYS_TOKEN_SECRET_ARN);
	// empty means the stack's own.
	TokenSecretID string
	// Token is the operator's QUALYS_ACCESS_TOKEN, used when no secret is
	// known (moto creates none).
	Token string
	// Pod overrides the stack's QualysPod; GatewayURL overrides the pod's
	// gateway (QUALYS_GATEWAY_URL: a private platform).
	Pod        string
	GatewayURL string
	// QScannerBinary is a local QScanner to run; when empty or missing, the
	// binary in the deployed layer zip is run instead.
	QScannerBinary string
	// HTTPClient makes the gateway request; nil means one with a 30-second
	// timeout.
	HTTPClient *http.Client
	// Timeout bounds the QScanner run. Zero means 30 seconds.
	Timeout time.Duration
}

// Verify checks a deployment end to end: the stack and its resources, the
// functions, their event sources, the bus rules and the Pipe are in place and
// enabled; the QScanner layer is attached and its binary runs; the Qualys
// token is present and the pod's gateway accepts it. Against an emulator
// (Options.Emulator) it runs what needs neither AWS itself nor a Qualys
// account and skips the rest with the reason. Check failures are in
// the report; the error is only for an interrupted run.
func (d *Deployer) Verify(ctx context.Context, in VerifyInput) (Report, error) {
	var r Report
	s, err := d.inspect(ctx, in.StackName)
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.add(CheckStack, Fail, "%v", err)
		for _, name := range []string{CheckResources, CheckFunctions, CheckEventSources, CheckRules, CheckPipe, CheckLayer, CheckQScannerRuns, CheckToken, CheckGateway} {
			r.add(name, Skip, "no stack")
		}
		return r, nil
	}
	if stable(s.Status) {
		r.add(CheckStack, Pass, "%s is %s in %s", s.Name, s.Status, d.reg)
	} else {
		r.add(CheckStack, Fail, "%s is %s %s", s.Name, s.Status, s.Reason)
	}
	params := paramsOf(s.Params)
	d.checkResources(&r, s)
	fns := d.checkFunctions(ctx, &r, s, params)
	d.checkEventSources(ctx, &r, s)
	d.checkRules(ctx, &r, s)
	d.checkPipe(ctx, &r, s)
	d.checkLayer(ctx, &r, s, fns)
	d.checkQScanner(ctx, &r, s, in)
	token := d.checkToken(ctx, &r, s, fns, in)
	d.checkGateway(ctx, &r, s, fns, in, token)
	return r, ctx.Err()
}
