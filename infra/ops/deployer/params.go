package deployer

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"ecrscanner/infra/ops/stack"
)

// ParameterEnv maps each template parameter a user sets to the environment
// variable `make deploy` reads it from. The seed's eight parameters come
// first. ArtifactsBucket and ArtifactsPrefix are not here: the deployer sets
// them to where it uploaded the code.
//
// A variable that is set, even to the empty string, gives the parameter that
// value. One that is unset leaves the parameter as it is: the template's
// default on the first deployment, the deployed value on later ones (so a
// second `make deploy` without QUALYS_ACCESS_TOKEN keeps the stored token).
var ParameterEnv = []struct{ Param, Env string }{
	{"QualysPod", "QUALYS_POD"},
	{"QualysAccessToken", "QUALYS_ACCESS_TOKEN"},
	{"ScanTypes", "SCAN_TYPES"},
	{"CacheTTLDays", "CACHE_TTL_DAYS"},
	{"LambdaMemorySize", "LAMBDA_MEMORY_SIZE"},
	{"LambdaTimeout", "LAMBDA_TIMEOUT"},
	{"EnableAlerts", "ENABLE_ALERTS"},
	{"AlertEmail", "ALERT_EMAIL"},
	{"QualysTokenSecretArn", "QUALYS_TOKEN_SECRET_ARN"},
	{"QualysTokenSecretKey", "QUALYS_TOKEN_SECRET_KEY"},
	{"QualysTokenSecretKmsKeyArn", "QUALYS_TOKEN_SECRET_KMS_KEY_ARN"},
	{"MinAlertSeverity", "MIN_ALERT_SEVERITY"},
	{"AlertOnSecrets", "ALERT_ON_SECRETS"},
	{"AlertFixableOnly", "ALERT_FIXABLE_ONLY"},
	{"ArchiveRetentionDays", "ARCHIVE_RETENTION_DAYS"},
	{"ScanTrigger", "SCAN_TRIGGER"},
	{"ScanArchitecture", "SCAN_ARCHITECTURE"},
	{"ScanPlatforms", "SCAN_PLATFORMS"},
	{"LogRetentionDays", "LOG_RETENTION_DAYS"},
	{"EnableSecurityHub", "ENABLE_SECURITY_HUB"},
	{"RescanAfterDays", "RESCAN_AFTER_DAYS"},
	{"RescanWindowDays", "RESCAN_WINDOW_DAYS"},
	{"RescanRatePerMinute", "RESCAN_RATE_PER_MINUTE"},
	{"RescanSchedule", "RESCAN_SCHEDULE"},
	// ---- organization (README, "Organization")
	{"OrganizationId", "ORGANIZATION_ID"},
	{"MemberAccounts", "MEMBER_ACCOUNTS"},
	{"ServedRegions", "SERVED_REGIONS"},
	{"SpokeRoleName", "SPOKE_ROLE_NAME"},
}

// Parameters the deployer fills in itself.
const (
	paramArtifactsBucket  = "ArtifactsBucket"
	paramArtifactsPrefix  = "ArtifactsPrefix"
	paramAccessToken      = "QualysAccessToken"
	paramTokenSecretArn   = "QualysTokenSecretArn"
	paramScanArchitecture = "ScanArchitecture"
	paramQualysPod        = "QualysPod"
)

// Source says where a parameter's value comes from.
type Source string

// The sources of parameter values.
const (
	FromEnv      Source = "environment"
	FromPrevious Source = "previous value"
	FromDefault  Source = "template default"
	FromDeployer Source = "deployer"
)

// Param is one template parameter as the deployer will pass it.
type Param struct {
	Key string
	// Value is the effective value. For FromPrevious it is the deployed value
	// (NoEcho ones read "****"); for FromDefault the template's default.
	Value string
	From  Source
	// Env is the variable the parameter maps to; empty for deployer-set ones.
	Env    string
	NoEcho bool
	// Note explains a value the deployer chose.
	Note string
}

// Params are the resolved parameters of one deployment, in display order.
type Params []Param

// Value returns the effective value of a parameter, or "".
func (ps Params) Value(key string) string {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// CloudFormation returns the parameters for CreateStack or UpdateStack:
// UsePreviousValue for kept ones, explicit values for all others. Defaults
// are sent too, so that every parameter has a previous value to keep on the
// next update (moto refuses UsePreviousValue for a parameter the stack was
// created without).
func (ps Params) CloudFormation() []cfntypes.Parameter {
	var out []cfntypes.Parameter
	for _, p := range ps {
		switch p.From {
		case FromPrevious:
			out = append(out, cfntypes.Parameter{ParameterKey: aws.String(p.Key), UsePreviousValue: aws.Bool(true)})
		default:
			out = append(out, cfntypes.Parameter{ParameterKey: aws.String(p.Key), ParameterValue: aws.String(p.Value)})
		}
	}
	return out
}

// Render writes the parameters as a table. NoEcho values are never shown.
func (ps Params) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range ps {
		v := p.Value
		if p.NoEcho {
			switch {
			case p.From == FromPrevious:
				v = "(kept, hidden)"
			case v == "":
				v = "(empty)"
			default:
				v = "(set, hidden)"
			}
		} else if v == "" {
			v = "''"
		}
		from := string(p.From)
		if p.From == FromEnv {
			from = p.Env
		}
		if p.Note != "" {
			from += ": " + p.Note
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Key, v, from)
	}
	return tw.Flush()
}

// ResolveParams decides every parameter of the template: fixed values the
// deployer sets, then the environment (through lookup), then, for a stack
// that exists, its previous values, then the template's defaults. previous
// is nil for a new stack. Values from the environment are checked against
// the template's AllowedValues and AllowedPattern, and all problems are
// reported together. Errors never contain a NoEcho value.
func ResolveParams(t *stack.Template, lookup func(string) (string, bool), previous map[string]string, fixed map[string]string) (Params, error) {
	r := paramResolver{t: t, lookup: lookup, previous: previous, fixed: fixed, envOf: map[string]string{}}
	for _, m := range ParameterEnv {
		r.envOf[m.Param] = m.Env
	}
	var errs []error
	r.tokenSet, r.arnSet = r.setNonBlank(paramAccessToken), r.setNonBlank(paramTokenSecretArn)
	if r.tokenSet && r.arnSet {
		errs = append(errs, fmt.Errorf("set %s or %s, not both", r.envOf[paramAccessToken], r.envOf[paramTokenSecretArn]))
	}
	keys := paramOrder(t)
	out := make(Params, 0, len(keys))
	for _, k := range keys {
		p, err := r.resolve(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stack parameters: %w", err)
	}
	return out, nil
}

// paramOrder is the display order of the template's parameters: those of
// ParameterEnv in its order, then the rest by name.
func paramOrder(t *stack.Template) []string {
	keys := make([]string, 0, len(t.Parameters))
	for _, m := range ParameterEnv {
		if _, ok := t.Parameters[m.Param]; ok {
			keys = append(keys, m.Param)
		}
	}
	var rest []string
	for k := range t.Parameters {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// paramResolver decides one parameter at a time for ResolveParams.
type paramResolver struct {
	t        *stack.Template
	lookup   func(string) (string, bool)
	previous map[string]string
	fixed    map[string]string
	// envOf maps a parameter to its environment variable.
	envOf map[string]string
	// tokenSet and arnSet say which token source the environment sets.
	tokenSet, arnSet bool
}

// lookupSet reads an environment variable; "" names none.
func (r *paramResolver) lookupSet(env string) (string, bool) {
	if env == "" {
		return "", false
	}
	return r.lookup(env)
}

// setNonBlank reports whether the parameter's variable is set to more than
// blanks.
func (r *paramResolver) setNonBlank(param string) bool {
	v, ok := r.lookupSet(r.envOf[param])
	return ok && strings.TrimSpace(v) != ""
}

// resolve decides parameter k: fixed, environment, the other token source's
// clearing, previous value, default, in that order.
func (r *paramResolver) resolve(k string) (Param, error) {
	decl := r.t.Parameters[k]
	p := Param{Key: k, Env: r.envOf[k], NoEcho: decl.NoEcho}
	if v, ok := r.fixed[k]; ok {
		p.Value, p.From = v, FromDeployer
		if err := checkValue(k, decl, v); err != nil {
			return p, fmt.Errorf("%s: %w", k, err)
		}
		return p, nil
	}
	if v, ok := r.lookupSet(p.Env); ok {
		p.Value, p.From = v, FromEnv
		if err := checkValue(k, decl, v); err != nil {
			return p, fmt.Errorf("%s (%s): %w%s", p.Env, k, err, paramHints[k])
		}
		return p, nil
	}
	// One token source replaces the other, or the template's rule that
	// forbids both would refuse the update.
	if k == paramAccessToken && r.arnSet {
		p.Value, p.From, p.Note = "", FromDeployer, "cleared because "+r.envOf[paramTokenSecretArn]+" is set"
		return p, nil
	}
	if k == paramTokenSecretArn && r.tokenSet {
		p.Value, p.From, p.Note = "", FromDeployer, "cleared because "+r.envOf[paramAccessToken]+" is set"
		return p, nil
	}
	if v, ok := r.previous[k]; ok {
		p.Value, p.From = v, FromPrevious
		return p, nil
	}
	if decl.HasDefault {
		p.Value, p.From = decl.Default, FromDefault
		return p, nil
	}
	if p.Env != "" {
		return p, fmt.Errorf("%s has no default: set %s", k, p.Env)
	}
	return p, fmt.Errorf("%s has no default and no environment variable maps to it", k)
}

// paramHints say how to fix a value the template refuses, where its pattern
// alone does not.
var paramHints = map[string]string{
	paramTokenSecretArn: "; give the secret's full ARN, which ends in a hyphen and the six characters " +
		"Secrets Manager adds to its name (aws secretsmanager describe-secret --secret-id NAME --query ARN)",
}

// checkValue applies the template's constraints to a value. Its errors do
// not quote the value of a NoEcho parameter.
func checkValue(key string, p stack.Parameter, v string) error {
	show := strconv.Quote(v)
	if p.NoEcho {
		show = "the value"
	}
	if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
		return fmt.Errorf("%s is not one of %s", show, strings.Join(p.AllowedValues, ", "))
	}
	if p.AllowedPattern != "" {
		re, err := regexp.Compile("^(?:" + p.AllowedPattern + ")$")
		if err != nil {
			return fmt.Errorf("template pattern of %s does not compile: %w", key, err)
		}
		if !re.MatchString(v) {
			return fmt.Errorf("%s does not match %s", show, p.AllowedPattern)
		}
	}
	if p.Type == "Number" {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%s is not a number", show)
		}
	}
	return nil
}

// paramsOf turns deployed parameter values into Params for the helpers that
// read a stack's parameters (FunctionTargets, LayerArch), sorted by key.
func paramsOf(m map[string]string) Params {
	ps := make(Params, 0, len(m))
	for k, v := range m {
		ps = append(ps, Param{Key: k, Value: v, From: FromPrevious})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}
