package motoserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// moto checks IAM only when asked: every request is allowed while its
// request counter is below settings.INITIAL_NO_AUTH_ACTION_COUNT (infinite
// by default). POST /moto-api/reset-auth sets that threshold and zeroes the
// counter, so posting 0 enforces IAM from the next request on: each request
// must then be signed with the access key of an IAM user or with credentials
// from an assumed role, and the user's or role's policies must allow the
// action (moto/core/authorization.py, moto/iam/access_control.py).
//
// iamPatches adapts two things of moto's evaluation, loaded into the same
// wrapper as serializeRequests:
//
//   - Only S3 and SQS (and IAM roles, STS) tell moto the resource a request is
//     about; for every other service moto evaluates the policy against "*",
//     which no statement naming an ARN matches, so a least-privilege role
//     would be refused everything. A statement's Resource is therefore taken
//     to match when moto does not know the resource: actions are checked
//     everywhere, resource ARNs only where moto knows them.
//   - POST /_ecrscan/assume-role plays a service principal assuming a role
//     (Lambda starting a function, Pipes running a pipe): the role's trust
//     policy must allow that service sts:AssumeRole, then the credentials
//     come from moto's STS backend, for at most the role's MaxSessionDuration
//     as AWS allows (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). The STS API cannot stand in for it: the
//     caller would be an IAM user the trust policy does not name, and moto
//     answers that case with a 500 (its _check_principal expects an "AWS"
//     principal).
//   - moto asks for an IAM action named after every operation, but SQS's
//     batch operations have none: SendMessage, DeleteMessage and
//     ChangeMessageVisibility permit their batch versions, and so they do here.
//     https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html
//   - moto stores the inline policies of a role CloudFormation created as
//     parsed documents, and its evaluator expects JSON text (a 500 on every
//     request such a role signs); documents are accepted either way.
//   - moto answers a refused request in XML even for the JSON protocols
//     (DynamoDB, SQS, EventBridge, ECR, …), which the Go SDK cannot decode:
//     the error would say "deserialization failed" rather than AccessDenied.
//     Such answers are rewritten as the JSON error those protocols use (S3
//     answers in XML whatever the object's content type, and is left alone).
//   - POST /_ecrscan/authorize evaluates a role's policies for an action on
//     a resource, as moto evaluates a request: for calls the runner makes on
//     a role's behalf without going through moto (the Pipe invoking its
//     enrichment function).
//   - POST /_ecrscan/admin creates an IAM user allowed everything, with an
//     access key: the principal a harness uses for set-up and observation,
//     whether or not IAM is enforced already.
const iamPatches = `
def _ecrscan_iam():
    import datetime, html, re
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, IAMRequestBase
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends
    matches = IAMPolicyStatement._check_element_matches
    def resource_matches(self, element, value):
        if element == "Resource" and value == "*":
            return True
        return matches(self, element, value)
    IAMPolicyStatement._check_element_matches = resource_matches
    batch = {"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
             "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
    request_init = IAMRequestBase.__init__
    def request_action(self, *args, **kwargs):
        request_init(self, *args, **kwargs)
        self._action = batch.get(self._action, self._action)
    IAMRequestBase.__init__ = request_action
    policy_init = IAMPolicy.__init__
    def policy_from_dict(self, policy):
        if isinstance(policy, dict) and "Statement" in policy:
            policy = json.dumps(policy)
        policy_init(self, policy)
    IAMPolicy.__init__ = policy_from_dict
    def trusts(role, service):
        doc = json.loads(role.assume_role_policy_document)
        stmts = doc.get("Statement", [])
        for s in stmts if isinstance(stmts, list) else [stmts]:
            acts = s.get("Action", [])
            acts = acts if isinstance(acts, list) else [acts]
            svc = (s.get("Principal") or {}).get("Service", []) if isinstance(s.get("Principal"), dict) else []
            svc = svc if isinstance(svc, list) else [svc]
            if s.get("Effect") == "Allow" and "sts:AssumeRole" in acts and service in svc:
                return True
        return False
    def assume(environ):
        n = int(environ.get("CONTENT_LENGTH") or 0)
        req = json.loads(environ["wsgi.input"].read(n) or b"{}")
        arn = req["RoleArn"]
        account = arn.split(":")[4]
        try:
            role = iam_backends[account]["aws"].get_role_by_arn(arn)
        except Exception as e:
            return 404, {"Error": "NoSuchEntity: " + str(e)}
        if not trusts(role, req["Service"]):
            return 403, {"Error": "AccessDenied: the trust policy of %s does not allow %s to assume it" % (arn, req["Service"])}
        if int(req["DurationSeconds"]) > role.max_session_duration:
            return 400, {"Error": "ValidationError: DurationSeconds exceeds the MaxSessionDuration (%ss) of %s" % (role.max_session_duration, arn)}
        r = sts_backends[account]["aws"].assume_role(
            region_name="us-east-1", role_session_name=req["RoleSessionName"], role_arn=arn,
            policy=None, duration=int(req["DurationSeconds"]), external_id=None)
        exp = r.expiration.replace(tzinfo=datetime.timezone.utc).isoformat()
        return 200, {"AccessKeyId": r.access_key_id, "SecretAccessKey": r.secret_access_key,
                     "SessionToken": r.session_token, "Expiration": exp}
    def admin(environ):
        n = int(environ.get("CONTENT_LENGTH") or 0)
        req = json.loads(environ["wsgi.input"].read(n) or b"{}")
        iam = iam_backends[req["Account"]]["aws"]
        name = req["UserName"]
        iam.create_user(region_name="us-east-1", user_name=name)
        iam.put_user_policy(name, "allow-everything", json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(name)
        return 200, {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
    def json_errors(environ, start_response, call):
        scope = re.search(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/", environ.get("HTTP_AUTHORIZATION", ""))
        if "json" not in environ.get("CONTENT_TYPE", "") or (scope and scope.group(1) == "s3"):
            return call(start_response)
        got = {}
        def capture(status, headers, exc_info=None):
            got["status"], got["headers"] = status, headers
            return lambda data: None
        body = b"".join(call(capture))
        status, headers = got["status"], got["headers"]
        if status.startswith("403") and body.lstrip().startswith(b"<"):
            code = re.search(rb"<Code>(.*?)</Code>", body)
            msg = re.search(rb"<Message>(.*?)</Message>", body, re.S)
            body = json.dumps({"__type": html.unescape(code.group(1).decode()) if code else "AccessDenied",
                               "message": html.unescape(msg.group(1).decode()) if msg else ""}).encode()
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
            headers += [("Content-Type", environ["CONTENT_TYPE"]), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]
    def authorize(environ):
        from moto.iam.access_control import PermissionResult
        n = int(environ.get("CONTENT_LENGTH") or 0)
        req = json.loads(environ["wsgi.input"].read(n) or b"{}")
        arn = req["RoleArn"]
        iam = iam_backends[arn.split(":")[4]]["aws"]
        try:
            role = iam.get_role_by_arn(arn)
        except Exception as e:
            return 404, {"Error": "NoSuchEntity: " + str(e)}
        policies = [iam.get_role_policy(role.name, p)[1] for p in iam.list_role_policies(role.name)]
        policies += list(iam.list_attached_role_policies(role.name)[0])
        allowed = False
        for p in policies:
            r = IAMPolicy(p).is_action_permitted(req["Action"], req["Resource"])
            if r == PermissionResult.DENIED:
                allowed = False
                break
            allowed = allowed or r == PermissionResult.PERMITTED
        return 200, {"Allowed": allowed}
    routes = {"/_ecrscan/assume-role": assume, "/_ecrscan/admin": admin, "/_ecrscan/authorize": authorize}
    def control(environ, start_response):
        route = routes.get(environ.get("PATH_INFO"))
        if route is None or environ.get("REQUEST_METHOD") != "POST":
            return None
        try:
            status, body = route(environ)
        except Exception as e:
            status, body = 400, {"Error": repr(e)}
        start_response("%d %s" % (status, "OK" if status == 200 else "Error"), [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]
    return control, json_errors
`

// EnforceIAM switches moto's access control on for every request from now
// on, for the rest of the server's life (Reset does not switch it off, and
// drops the IAM users and roles every caller then needs). Create the
// principals callers will use before calling it: afterwards moto refuses
// unsigned requests, unknown access keys, and actions no policy allows.
func (m *Moto) EnforceIAM(ctx context.Context) error {
	return m.resetAuth(ctx, "0")
}

// resetAuth sets moto's INITIAL_NO_AUTH_ACTION_COUNT and zeroes its request
// counter. The body must not be form-encoded: moto reads the raw request data.
func (m *Moto) resetAuth(ctx context.Context, threshold string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+"/moto-api/reset-auth", bytes.NewBufferString(threshold))
	if err != nil {
		return fmt.Errorf("enforce IAM in moto: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("enforce IAM in moto: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("enforce IAM in moto: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// RoleCredentials are temporary credentials of an assumed role.
type RoleCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time
}

// AssumeRoleAs returns credentials of roleARN as the AWS service principal
// service (e.g. "lambda.amazonaws.com") obtains them: only when the role's
// trust policy allows that service sts:AssumeRole. It works whether or not
// IAM is enforced. It needs the wrapper moto_server runs in (a Python
// moto_server, as pip installs it).
func (m *Moto) AssumeRoleAs(ctx context.Context, service, roleARN, session string, d time.Duration) (RoleCredentials, error) {
	var out struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      time.Time
	}
	in := map[string]any{"Service": service, "RoleArn": roleARN, "RoleSessionName": session, "DurationSeconds": int(d / time.Second)}
	if err := m.control(ctx, "/_ecrscan/assume-role", in, &out); err != nil {
		return RoleCredentials{}, fmt.Errorf("assume %s as %s: %w", roleARN, service, err)
	}
	return RoleCredentials{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey, SessionToken: out.SessionToken, Expires: out.Expiration}, nil
}

// AccessKey is an IAM user's access key.
type AccessKey struct {
	AccessKeyID, SecretAccessKey string
}

// CreateAdmin creates the IAM user name in account, with an inline policy
// allowing every action on every resource, and returns its access key: the
// principal for whatever sets up and observes a run rather than being under
// test. It works whether or not IAM is enforced; name must be new.
func (m *Moto) CreateAdmin(ctx context.Context, account, name string) (AccessKey, error) {
	var out struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
	}
	if err := m.control(ctx, "/_ecrscan/admin", map[string]any{"Account": account, "UserName": name}, &out); err != nil {
		return AccessKey{}, fmt.Errorf("create admin user %s: %w", name, err)
	}
	return AccessKey{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey}, nil
}

// control posts in to one of the wrapper's control paths and decodes its
// answer into out. Errors carry the wrapper's message, never the answer (it
// may hold a secret).
func (m *Moto) control(ctx context.Context, path string, in, out any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var e struct{ Error string }
	if resp.StatusCode != http.StatusOK {
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			// Not the wrapper answering (moto_server run without it).
			return fmt.Errorf("%s: %.200s", resp.Status, bytes.TrimSpace(body))
		}
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("unreadable answer: %v", err)
	}
	return nil
}

// Authorize reports whether the policies of roleARN allow action on
// resource, evaluated as moto evaluates a request signed by the role: an
// error naming both when they do not. It is for what a runner does on a
// role's behalf outside moto's API.
func (m *Moto) Authorize(ctx context.Context, roleARN, action, resource string) error {
	var out struct{ Allowed bool }
	if err := m.control(ctx, "/_ecrscan/authorize", map[string]any{"RoleArn": roleARN, "Action": action, "Resource": resource}, &out); err != nil {
		return fmt.Errorf("authorize %s for %s: %w", roleARN, action, err)
	}
	if !out.Allowed {
		return fmt.Errorf("AccessDenied: %s is not authorized to perform: %s on resource: %s", roleARN, action, resource)
	}
	return nil
}
