package qscanner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// genVariant shapes a generated SARIF report for the differential tests.
type genVariant struct {
	resultsFirst bool // "results" before "tool" in each run
	duplicates   bool // rules described twice, differently, and results naming the copies
	odd          bool // leaves of unexpected types, escapes, nulls, indentation
	runs         int  // runs in the log (0 means 1)
}

// genSARIF writes a report of n findings the way the stand-in and Qualys
// shape it, with the variant's oddities, deterministically.
func genSARIF(n int, v genVariant) []byte {
	var b strings.Builder
	b.WriteString(`{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[`)
	for run := range max(v.runs, 1) {
		if run > 0 {
			b.WriteString(",")
		}
		tool := `"tool":{"driver":{"name":"gen","fullName":"generated \"report\"","version":"4.8.0-` + fmt.Sprint(run) + `","rules":[` + genRules(n, v) + `]}}`
		results := `"results":[` + genResults(n, v) + `]`
		props := fmt.Sprintf(`"properties":{"imageID":"sha256:%064x","imageDigest":"sha256:%064x","os":"Gen Linux %d","repoTags":["a:1",null]}`, run, run+1, run)
		b.WriteString("{")
		if v.resultsFirst {
			b.WriteString(results + "," + props + "," + tool)
		} else {
			b.WriteString(tool + "," + results + "," + props)
		}
		b.WriteString(`,"invocations":[{"executionSuccessful":true,"exitCode":0}]}`)
	}
	b.WriteString("]}")
	if !v.odd {
		return []byte(b.String())
	}
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(b.String()), "", "\t"); err != nil {
		panic(err) // a generator bug: the test cannot run
	}
	return out.Bytes()
}

func genRules(n int, v genVariant) string {
	var parts []string
	for i := range n {
		parts = append(parts, genRule(i, i%5+1, v))
	}
	if v.duplicates {
		for i := 0; i < n; i += 5 {
			parts = append(parts, genRule(i, 5-i%5, v)) // the same ID, another severity
		}
	}
	return strings.Join(parts, ",")
}

func genRule(i, level int, v genVariant) string {
	qid := fmt.Sprint(100000 + i)
	sev := fmt.Sprint(level)
	cves := fmt.Sprintf(`["CVE-2024-%d"]`, i)
	cvss := fmt.Sprintf(`{"v3":{"baseScore":%d.%d,"vector":"CVSS:3.1/AV:N"},"v2":{"baseScore":5}}`, level*2-1, level)
	short := fmt.Sprintf(`{"text":"Generated vulnerability %s"}`, qid)
	if v.odd {
		switch i % 7 {
		case 0:
			sev, cves, cvss = `"HIGH"`, `"CVE-2024-1"`, `null`
		case 1:
			sev, cves, cvss = `"`+sev+`"`, `["CVE-2024-\u0031", 7, null, ""]`, `{"v3":"x"}`
		case 2:
			sev, short, cvss = `5.0`, `{"text":"caf\u00e9 \"quoted\"","markdown":"x"}`, `{"v3":{"baseScore":"11"}}`
		case 3:
			sev, short, cvss = `null`, `"not a message"`, `[]`
		case 4:
			sev, short = `{"level":5}`, `{"text":"  padded  "}`
		}
	}
	return fmt.Sprintf(`{"id":"%s","name":"Gen %s","shortDescription":%s,"fullDescription":{"text":"line\nwith \\ escapes \u2028 and \ud83d\ude00"},`+
		`"help":{"text":"upgrade"},"properties":{"QID":%s,"severity":%s,"customerSeverity":%d,"cve-ids":%s,"category":"Gen","cvssInfo":%s,"publishedDate":"2024-01-01T00:00:00Z"}}`,
		qid, qid, short, qid, sev, 6-level, cves, cvss)
}

func genResults(n int, v genVariant) string {
	var parts []string
	for i := range n {
		parts = append(parts, genResult(i, v))
		if v.duplicates && i%5 == 0 {
			// A result naming the duplicate copy by index alone.
			parts = append(parts, fmt.Sprintf(`{"ruleIndex":%d,"level":"note","message":{"text":"x"}}`, n+i/5))
		}
	}
	return strings.Join(parts, ",")
}

func genResult(i int, v genVariant) string {
	qid := fmt.Sprint(100000 + i)
	sw := fmt.Sprintf(`{"name":"pkg-%d","installedVersion":"1.0.%d","fixedVersion":"1.1.%d","layerSHA":"sha256:%064x","path":"var/lib/dpkg/status"}`, i, i, i, i%3)
	props := fmt.Sprintf(`{"QID":%s,"vulnerableSoftware":[%s]}`, qid, sw)
	rule := fmt.Sprintf(`"ruleId":"%s","ruleIndex":%d`, qid, i)
	if v.odd {
		switch i % 6 {
		case 0:
			props = fmt.Sprintf(`{"QID":"%s","severity":"CRITICAL","vulnerableSoftware":[%s,null,{"name":"p\u00e9"},{"installedVersion":1.5}]}`, qid, sw)
		case 1:
			props, rule = `null`, fmt.Sprintf(`"ruleIndex":%d.0`, i)
		case 2:
			props = fmt.Sprintf(`{"QID":%s.0,"severity":9,"vulnerableSoftware":null,"extra":{"deep":[[{}],[]]}}`, qid)
		case 3:
			props, rule = `{}`, `"ruleId":"unknown-rule"`
		case 4:
			props = `{"QID":"","vulnerableSoftware":[]}`
		}
	}
	return fmt.Sprintf(`{%s,"level":"error","message":{"text":"found in pkg-%d"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"x"}}}],"properties":%s}`, rule, i, props)
}
