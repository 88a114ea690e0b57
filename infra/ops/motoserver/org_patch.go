package motoserver

import "context"

// orgPatches make moto hold an organization's hub and spokes to what AWS
// documents, where moto is looser, so that the multi-account tests cannot
// pass on behaviour AWS refuses. moto keeps accounts apart by the account
// of the request's credentials (an IAM user's access key, or an assumed
// role's, which belongs to the role's account):
// https://docs.getmoto.org/en/latest/docs/multi_account.html
//
//   - sts:AssumeRole of a role in another account: moto hands out
//     credentials for any role ARN, even one that does not exist, and checks
//     a trust policy only for roles of the caller's own account (and then
//     only an exact principal string). Here the role must exist in its
//     account and its trust policy must allow the caller: an "AWS"
//     principal naming the caller's account root, its role ARN or "*", and
//     conditions on aws:PrincipalArn (the role's ARN for a role session) and
//     sts:ExternalId with the String/Arn Equals/Like operators. A condition
//     this stand-in cannot evaluate refuses rather than admits.
//     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
//     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
//   - A rule target that is an event bus in another account or region: moto
//     delivers it, but as a new event of the target bus's account and region
//     without the original's resources, time or id. EventBridge keeps the
//     event as it was (its "account" and "region" remain the source's), so
//     here the event is delivered to the target bus's rules unchanged. AWS
//     requires a RoleArn on such a target whose policy allows
//     events:PutEvents on the bus; without one, or with a policy that does
//     not allow it, the event is dropped here (AWS would refuse the target
//     or fail the invocation) and reported on moto's stderr. The target
//     bus's resource policy (aws:PrincipalOrgID) is not evaluated: moto has
//     no organization membership to evaluate it against.
//     https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html
//     https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
const orgPatches = `
def _ecrscan_org():
    import copy, fnmatch, json, re, sys
    from moto.iam.access_control import IAMRequestBase, IAMPolicy, PermissionResult
    from moto.iam.models import iam_backends
    from moto.events.models import Rule, events_backends
    def listify(v):
        return v if isinstance(v, list) else ([] if v is None else [v])
    def doc_of(d):
        return json.loads(d) if isinstance(d, str) else d
    def principal_arn(arn):
        m = re.match(r"arn:([^:]+):sts::([0-9]{12}):assumed-role/([^/]+)/", arn)
        return "arn:%s:iam::%s:role/%s" % m.groups() if m else arn
    def conditions_hold(cond, ctx):
        for op, kv in (cond or {}).items():
            for key, want in kv.items():
                have = ctx.get(key)
                if have is None:
                    return False
                if op in ("ArnLike", "StringLike"):
                    ok = any(fnmatch.fnmatchcase(have, w) for w in listify(want))
                elif op in ("ArnEquals", "StringEquals"):
                    ok = have in listify(want)
                else:
                    return False
                if not ok:
                    return False
        return True
    def trusts(role, caller, external_id):
        pa = principal_arn(caller)
        account = pa.split(":")[4]
        root = "arn:%s:iam::%s:root" % (pa.split(":")[1], account)
        for s in listify(doc_of(role.assume_role_policy_document).get("Statement")):
            if s.get("Effect") != "Allow" or "sts:AssumeRole" not in listify(s.get("Action")):
                continue
            p = s.get("Principal")
            aws = listify(p.get("AWS")) if isinstance(p, dict) else listify(p)
            if not any(x in ("*", root, pa, account) for x in aws):
                continue
            if conditions_hold(s.get("Condition"), {"aws:PrincipalArn": pa, "sts:ExternalId": external_id}):
                return True
        return False
    def external_id(data):
        v = (data or {}).get("ExternalId")
        return v[0] if isinstance(v, list) and v else v
    check = IAMRequestBase.check_action_permitted
    def check_with_trust(self, resource):
        if self._action == "sts:AssumeRole" and ":role/" in resource and resource.split(":")[4] != self.account_id:
            try:
                role = iam_backends[resource.split(":")[4]]["aws"].get_role_by_arn(resource)
            except Exception:
                self._raise_access_denied()
            if not trusts(role, self._access_key.arn, external_id(self._data)):
                self._raise_access_denied()
        return check(self, resource)
    IAMRequestBase.check_action_permitted = check_with_trust
    def may_put(rule, bus_arn, role_arn):
        if not role_arn:
            return "no RoleArn"
        iam = iam_backends[role_arn.split(":")[4]]["aws"]
        try:
            role = iam.get_role_by_arn(role_arn)
        except Exception:
            return "role %s does not exist" % role_arn
        policies = [iam.get_role_policy(role.name, n)[1] for n in iam.list_role_policies(role.name)]
        policies += list(iam.list_attached_role_policies(role.name)[0])
        allowed = False
        for p in policies:
            r = IAMPolicy(p).is_action_permitted("events:PutEvents", bus_arn)
            if r == PermissionResult.DENIED:
                return "role %s is denied events:PutEvents on %s" % (role_arn, bus_arn)
            allowed = allowed or r == PermissionResult.PERMITTED
        return "" if allowed else "role %s is not allowed events:PutEvents on %s" % (role_arn, bus_arn)
    send = Rule.send_to_targets
    def send_keeping_origin(self, event, transform_input=True):
        far = [t for t in self.targets if ":event-bus/" in t["Arn"] and
               (t["Arn"].split(":")[4] != self.account_id or t["Arn"].split(":")[3] != self.region_name)]
        if not far:
            return send(self, event, transform_input)
        if self.event_pattern.matches_event(event):
            for t in far:
                why = may_put(self, t["Arn"], t.get("RoleArn"))
                if why:
                    print("moto events: %s not delivered to %s: %s" % (event.get("id"), t["Arn"], why), file=sys.stderr)
                    continue
                parts = t["Arn"].split(":")
                bus = events_backends[parts[4]][parts[3]].describe_event_bus(parts[5].split("/", 1)[1])
                for r in list(bus.rules.values()):
                    r.send_to_targets(copy.deepcopy(event))
        saved = self.targets
        self.targets = [t for t in saved if t not in far]
        try:
            return send(self, event, transform_input)
        finally:
            self.targets = saved
    Rule.send_to_targets = send_keeping_origin
try:
    _ecrscan_org()
except Exception as e:
    print("moto organization patches not loaded:", e, file=sys.stderr)
`

// CreateAdminAt creates an admin user in account on the moto_server at
// endpoint, one this process did not start (make run's member account).
func CreateAdminAt(ctx context.Context, endpoint, account, name string) (AccessKey, error) {
	return (&Moto{endpoint: endpoint}).CreateAdmin(ctx, account, name)
}
