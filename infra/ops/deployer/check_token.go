package deployer

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/secretstore"
)

// tokenVar is the scan function's variable naming its token secret.
const tokenVar = "QUALYS_TOKEN_SECRET_ARN"

// checkToken finds the token the scan function will use and returns it ("" if
// none). The token is never put in the report.
func (d *Deployer) checkToken(ctx context.Context, r *Report, s *stack.Deployed, fns []deployedFunction, in VerifyInput) string {
	secretID, where := in.TokenSecretID, "QUALYS_TOKEN_SECRET_ARN"
	if secretID == "" {
		secretID, where = s.Outputs[paramTokenSecretArn], "stack output "+paramTokenSecretArn
	}
	if secretID == "" {
		for _, f := range fns {
			if v := f.env[tokenVar]; v != "" {
				secretID, where = v, f.spec.HandlerDir+" function's "+tokenVar
			}
		}
	}
	if secretID == "" {
		switch {
		case d.emulatorSkips(typeSecret) && in.Token != "":
			return tokenResult(r, in.Token, "QUALYS_ACCESS_TOKEN ("+d.emu.Name()+" created no secret)")
		case d.emulatorSkips(typeSecret):
			r.add(CheckToken, Skip, "%s; set QUALYS_ACCESS_TOKEN to check a token", d.notCreated(typeSecret))
		default:
			r.add(CheckToken, Fail, "the stack names no token secret (no %s output, no %s on the functions)", paramTokenSecretArn, tokenVar)
		}
		return ""
	}
	src, err := secretstore.NewSecretsManager(d.c.Secrets, secretID, 0)
	if err != nil {
		r.add(CheckToken, Fail, "%v", err)
		return ""
	}
	token, err := src.Token(ctx)
	if err != nil {
		if errors.Is(err, secretstore.ErrNoToken) {
			r.add(CheckToken, Fail, "secret %s (from %s) holds no token: aws secretsmanager put-secret-value --secret-id %s --secret-string <token>", secretID, where, secretID)
			return ""
		}
		r.add(CheckToken, Fail, "secret %s (from %s): %v", secretID, where, err)
		return ""
	}
	return tokenResult(r, token, "secret "+secretID)
}

// tokenResult reports a token found in source: present, and unexpired if it
// is a JWT. It returns the token when it is usable.
func tokenResult(r *Report, token, source string) string {
	if exp, ok := tokenExpiry(token); ok {
		if time.Now().After(exp) {
			r.add(CheckToken, Fail, "token in %s expired on %s", source, exp.Format(time.DateOnly))
			return ""
		}
		r.add(CheckToken, Pass, "present in %s (JWT, expires %s)", source, exp.Format(time.DateOnly))
		return token
	}
	r.add(CheckToken, Pass, "present in %s", source)
	return token
}

// checkGateway asks the pod's gateway (or the one configured) whether it
// accepts the token.
func (d *Deployer) checkGateway(ctx context.Context, r *Report, s *stack.Deployed, fns []deployedFunction, in VerifyInput, token string) {
	if d.emu != nil {
		r.add(CheckGateway, Skip, "needs a Qualys account; AWS_ENDPOINT_URL points at a local AWS")
		return
	}
	if token == "" {
		r.add(CheckGateway, Skip, "no usable token (see %s)", CheckToken)
		return
	}
	gateway := in.GatewayURL
	if gateway == "" {
		for _, f := range fns {
			gateway = cmp.Or(gateway, f.env["QUALYS_GATEWAY_URL"])
		}
	}
	if gateway == "" {
		pod := cmp.Or(in.Pod, s.Params[paramQualysPod])
		g, err := GatewayURL(pod)
		if err != nil {
			r.add(CheckGateway, Fail, "%v", err)
			return
		}
		gateway = g
	}
	client := in.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	res, detail := probeGateway(ctx, client, gateway, token)
	r.add(CheckGateway, res, "%s", redact(detail, token))
}
