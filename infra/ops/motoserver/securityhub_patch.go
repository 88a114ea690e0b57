package motoserver

// securityhubPatches give moto's Security Hub the BatchUpdateFindings call
// it lacks (moto 5.2 routes only BatchImportFindings and GetFindings for
// findings), as AWS documents it
// (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html):
// PATCH /findings/batchupdate sets the Workflow and Note of the findings
// named by Id and ProductArn, and lists the ones it cannot find as
// unprocessed. The Security Hub handler suppresses existing findings with
// it; without the patch the local run would fail where AWS succeeds.
const securityhubPatches = `
def _ecrscan_securityhub():
    import datetime
    from moto.securityhub import urls, responses
    urls.url_paths["{0}/findings/batchupdate$"] = responses.SecurityHubResponse.dispatch
    def batch_update_findings(self):
        body = json.loads(self.body or "{}")
        findings = self.securityhub_backend.findings
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        processed, unprocessed = [], []
        for ident in body.get("FindingIdentifiers", []):
            found = [f for f in findings if f.id == ident.get("Id") and f.data.get("ProductArn") == ident.get("ProductArn")]
            if not found:
                unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"})
                continue
            for f in found:
                if "Workflow" in body:
                    f.data["Workflow"] = dict(body["Workflow"])
                if "Note" in body:
                    f.data["Note"] = dict(body["Note"], UpdatedAt=now)
            processed.append(ident)
        return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})
    responses.SecurityHubResponse.batch_update_findings = batch_update_findings
try:
    _ecrscan_securityhub()
except Exception as e:
    print("moto securityhub patch not loaded:", e, file=sys.stderr)
`
