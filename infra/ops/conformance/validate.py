"""Validates captured AWS requests against botocore's service models.

Reads a JSON list of requests ({service, method, path, query, headers,
body_b64}) from the file named by argv[1] and writes to stdout a JSON list of
{index, service, operation, errors}. Each request is mapped back to the
operation's input parameters as botocore would have built them, then checked
with botocore.validate.ParamValidator (required members, types, min
lengths and ranges) and, since ParamValidator leaves them to the server, with
the model's max lengths, list and map sizes, enums and patterns.
"""

import base64
import datetime
import json
import re
import sys
import urllib.parse

import botocore.session
from botocore.validate import ParamValidator

SESSION = botocore.session.get_session()


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        requests = json.load(f)
    models = {}
    results = []
    for i, req in enumerate(requests):
        svc = req["service"]
        if svc not in models:
            models[svc] = SESSION.get_service_model(svc)
        model = models[svc]
        body = base64.b64decode(req.get("body_b64") or "")
        try:
            op = find_operation(model, req, body)
            params = params_of(model, op, req, body)
        except Exception as e:  # the request itself could not be read
            results.append({"index": i, "service": svc, "operation": "", "errors": ["unreadable request: %s" % e]})
            continue
        errors = []
        report = ParamValidator().validate(params, op.input_shape)
        if report.has_errors():
            errors.extend(report.generate_report().splitlines())
        check_bounds(params, op.input_shape, "", errors)
        results.append({"index": i, "service": svc, "operation": op.name, "errors": errors})
    json.dump(results, sys.stdout)


def find_operation(model, req, body):
    target = header(req, "X-Amz-Target")
    if target:
        return model.operation_model(target.split(".", 1)[1])
    if model.protocol == "query":
        form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return model.operation_model(form["Action"][0])
    path = urllib.parse.urlsplit(req["path"]).path
    query = urllib.parse.parse_qs(req.get("query") or "", keep_blank_values=True)
    for name in model.operation_names:
        op = model.operation_model(name)
        if op.http.get("method") != req["method"]:
            continue
        if match_uri(op.http["requestUri"], path, query) is not None:
            if "x-id" not in query or query["x-id"][0] == name:
                return op
    raise ValueError("no %s operation for %s %s" % (model.service_name, req["method"], path))


def match_uri(template, path, query):
    """Returns the URI labels of template in path, or None if it does not match."""
    tpath, _, tquery = template.partition("?")
    for cond in filter(None, tquery.split("&")):
        key = cond.split("=", 1)[0]
        if key not in query:
            return None
    pattern = ""
    names = []
    for part in re.split(r"(\{[^}]+\})", tpath):
        if part.startswith("{"):
            name = part[1:-1]
            greedy = name.endswith("+")
            names.append(name.rstrip("+"))
            pattern += "(.+)" if greedy else "([^/]+)"
        else:
            pattern += re.escape(part)
    m = re.fullmatch(pattern, path)
    if not m:
        return None
    return {n: urllib.parse.unquote(v) for n, v in zip(names, m.groups())}


def header(req, name):
    for k, v in (req.get("headers") or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def params_of(model, op, req, body):
    shape = op.input_shape
    if model.protocol in ("json",):
        return convert(json.loads(body or b"{}"), shape)
    if model.protocol == "query":
        form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        flat = {k: v[0] for k, v in form.items() if k not in ("Action", "Version")}
        return from_query(flat, shape, "")
    return from_rest(model, op, req, body)


def from_rest(model, op, req, body):
    shape = op.input_shape
    path = urllib.parse.urlsplit(req["path"]).path
    query = urllib.parse.parse_qs(req.get("query") or "", keep_blank_values=True)
    labels = match_uri(op.http["requestUri"], path, query) or {}
    params = {}
    payload = shape.serialization.get("payload")
    body_members = {}
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        where = member.serialization.get("name", name)
        if loc == "uri" and where in labels:
            params[name] = scalar(labels[where], member)
        elif loc == "header":
            v = header(req, where)
            if v is not None:
                params[name] = scalar(v, member)
        elif loc == "querystring" and where in query:
            params[name] = scalar(query[where][0], member)
        elif loc is None:
            body_members[name] = member
    if payload:
        member = shape.members[payload]
        if member.type_name == "blob":
            params[payload] = body
        elif body:
            raise ValueError("structured payloads are not read")
    elif body and model.protocol == "rest-json":
        doc = json.loads(body)
        for name, member in body_members.items():
            key = member.serialization.get("name", name)
            if key in doc:
                params[name] = convert(doc[key], member)
    return params


def scalar(v, shape):
    t = shape.type_name
    if t in ("integer", "long"):
        return int(v)
    if t == "boolean":
        return v == "true"
    if t == "timestamp":
        return v
    if t == "blob":
        return base64.b64decode(v)
    return v


def convert(v, shape):
    """Maps a JSON value onto what botocore takes for shape."""
    t = shape.type_name
    if t == "structure" and isinstance(v, dict):
        out = {}
        for k, e in v.items():
            member = shape.members.get(k)
            out[k] = convert(e, member) if member is not None else e
        return out
    if t == "list" and isinstance(v, list):
        return [convert(e, shape.member) for e in v]
    if t == "map" and isinstance(v, dict):
        return {k: convert(e, shape.value) for k, e in v.items()}
    if t == "blob" and isinstance(v, str):
        return base64.b64decode(v)
    if t == "timestamp" and isinstance(v, (int, float)):
        return datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
    return v


def from_query(flat, shape, prefix):
    """Rebuilds parameters from the query protocol's flattened form."""
    t = shape.type_name
    if t == "structure":
        out = {}
        base = prefix if prefix == "" or prefix.endswith(".") else prefix + "."
        for name, member in shape.members.items():
            key = base + member.serialization.get("name", name)
            if key in flat or any(k.startswith(key + ".") for k in flat):
                out[name] = from_query(flat, member, key)
        return out
    if t == "list":
        items = []
        i = 1
        while True:
            key = "%s.member.%d" % (prefix, i)
            if key not in flat and not any(k.startswith(key + ".") for k in flat):
                return items
            items.append(from_query(flat, shape.member, key))
            i += 1
    if t == "map":
        out = {}
        kname = shape.key.serialization.get("name", "key")
        vname = shape.value.serialization.get("name", "value")
        i = 1
        while True:
            entry = "%s.entry.%d" % (prefix, i)
            if entry + "." + kname not in flat:
                return out
            out[flat[entry + "." + kname]] = from_query(flat, shape.value, entry + "." + vname + ".")
            i += 1
    value = flat.get(prefix.rstrip("."))
    return scalar(value, shape) if value is not None else None


def check_bounds(v, shape, name, errors):
    """Reports what ParamValidator leaves out: max, enum and pattern."""
    t = shape.type_name
    meta = shape.metadata
    where = name or "<input>"
    if t == "structure" and isinstance(v, dict):
        for k, e in v.items():
            if k in shape.members:
                check_bounds(e, shape.members[k], name + "." + k if name else k, errors)
        return
    if t == "list" and isinstance(v, list):
        if "max" in meta and len(v) > meta["max"]:
            errors.append("%s: %d items, over the model's max %d" % (where, len(v), meta["max"]))
        for i, e in enumerate(v):
            check_bounds(e, shape.member, "%s[%d]" % (where, i), errors)
        return
    if t == "map" and isinstance(v, dict):
        if "max" in meta and len(v) > meta["max"]:
            errors.append("%s: %d entries, over the model's max %d" % (where, len(v), meta["max"]))
        for k, e in v.items():
            check_bounds(k, shape.key, "%s key %r" % (where, k[:40]), errors)
            check_bounds(e, shape.value, "%s[%r]" % (where, k[:40]), errors)
        return
    if t == "string" and isinstance(v, str):
        if "max" in meta and len(v) > meta["max"]:
            errors.append("%s: %d characters, over the model's max %d" % (where, len(v), meta["max"]))
        if shape.enum and v not in shape.enum:
            errors.append("%s: %r is not one of %s" % (where, v[:40], shape.enum))
        pattern = meta.get("pattern")
        if pattern:
            try:
                if re.search(pattern, v) is None:
                    errors.append("%s: %r does not match the model's pattern %s" % (where, v[:60], pattern))
            except re.error:
                pass  # a Java-only construct: left to the server
        return
    if t == "blob" and isinstance(v, (bytes, bytearray)):
        if "max" in meta and len(v) > meta["max"]:
            errors.append("%s: %d bytes, over the model's max %d" % (where, len(v), meta["max"]))


if __name__ == "__main__":
    main()
