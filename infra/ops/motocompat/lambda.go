package motocompat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// LambdaTypeFix makes the Lambda client read functions that moto's
// CloudFormation created. moto copies Ref values into the function as the
// parameter's YAML type, so a String parameter used as Timeout comes back
// as "900" and a Number parameter used as an environment variable as 30;
// the SDK rejects both. The fix rewrites such fields of the response JSON to
// the types AWS sends. Install it only on a client that talks to moto.
func LambdaTypeFix(o *lambda.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Deserialize.Insert(motoFixMiddleware{}, "OperationDeserializer", middleware.After)
	})
}

type motoFixMiddleware struct{}

func (motoFixMiddleware) ID() string { return "MotoLambdaTypeFix" }

func (motoFixMiddleware) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Body == nil || resp.StatusCode >= 300 {
		return out, md, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		return out, md, fmt.Errorf("read Lambda response: %w", rerr)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) == nil {
		if fixed, changed := fixLambdaTypes(doc, ""); changed {
			if b, merr := json.Marshal(fixed); merr == nil {
				body = b
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return out, md, err
}

// numericFields are the Lambda fields AWS sends as numbers.
var numericFields = map[string]bool{"Timeout": true, "MemorySize": true}

func fixLambdaTypes(v any, key string) (any, bool) {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if key == "Variables" {
				if _, isString := e.(string); !isString && e != nil {
					x[k] = fmt.Sprint(e)
					changed = true
				}
				continue
			}
			if s, isString := e.(string); isString && numericFields[k] {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					x[k] = n
					changed = true
				}
				continue
			}
			fixed, c := fixLambdaTypes(e, k)
			x[k] = fixed
			changed = changed || c
		}
	case []any:
		for i, e := range x {
			fixed, c := fixLambdaTypes(e, key)
			x[i] = fixed
			changed = changed || c
		}
	}
	return v, changed
}
