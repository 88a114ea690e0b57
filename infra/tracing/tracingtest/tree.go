package tracingtest

import (
	"fmt"
	"sort"
	"strings"

	"ecrscanner/domain"
)

// Tree renders documents as one tree per trace, the way the X-Ray console's
// timeline nests them: every (sub)segment under its parent, whether it came
// inline or in a datagram of its own, children in start order, each with its
// start offset from the trace's first document, its duration, its flags and
// its annotations. A parent that was never received (in Lambda, the
// function segment Lambda records itself) appears as a placeholder named by
// its ID.
func Tree(docs []Document) string {
	var order []string
	byTrace := map[string][]Document{}
	for _, d := range docs {
		if _, ok := byTrace[d.TraceID]; !ok {
			order = append(order, d.TraceID)
		}
		byTrace[d.TraceID] = append(byTrace[d.TraceID], d)
	}
	var b strings.Builder
	for _, id := range order {
		renderTrace(&b, id, byTrace[id])
	}
	return b.String()
}

type node struct {
	doc   Document
	label string
	// segment marks a document received on its own without a type: a
	// segment rather than a subsegment (inline children carry no type).
	segment  bool
	children []*node
}

func renderTrace(b *strings.Builder, traceID string, docs []Document) {
	known := map[string]*node{}
	var build func(d Document) *node
	build = func(d Document) *node {
		n := &node{doc: d}
		known[d.ID] = n
		for _, c := range d.Subsegments {
			n.children = append(n.children, build(c))
		}
		return n
	}
	tops := make([]*node, len(docs))
	for i, d := range docs {
		tops[i] = build(d)
		tops[i].segment = d.Type == ""
	}
	var roots []*node
	missing := map[string]*node{}
	for _, n := range tops {
		switch p, ok := known[n.doc.ParentID]; {
		case n.doc.ParentID == "":
			roots = append(roots, n)
		case ok && p != n:
			p.children = append(p.children, n)
		default:
			m := missing[n.doc.ParentID]
			if m == nil {
				m = &node{label: n.doc.ParentID + " (not sent to this daemon)", doc: Document{StartTime: n.doc.StartTime}}
				missing[n.doc.ParentID] = m
				roots = append(roots, m)
			}
			m.doc.StartTime = min(m.doc.StartTime, n.doc.StartTime)
			m.children = append(m.children, n)
		}
	}
	origin := 0.0
	for _, d := range docs {
		d.Walk(func(x Document, _ int) {
			if origin == 0 || x.StartTime < origin {
				origin = x.StartTime
			}
		})
	}
	fmt.Fprintf(b, "trace %s\n", traceID)
	sortNodes(roots)
	for i, r := range roots {
		renderNode(b, r, "", i == len(roots)-1, origin)
	}
}

func sortNodes(ns []*node) {
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].doc.StartTime < ns[j].doc.StartTime })
	for _, n := range ns {
		sortNodes(n.children)
	}
}

func renderNode(b *strings.Builder, n *node, prefix string, last bool, origin float64) {
	branch, indent := "├─ ", "│  "
	if last {
		branch, indent = "└─ ", "   "
	}
	b.WriteString(prefix + branch + describe(n, origin) + "\n")
	for i, c := range n.children {
		renderNode(b, c, prefix+indent, i == len(n.children)-1, origin)
	}
}

func describe(n *node, origin float64) string {
	if n.label != "" {
		return n.label
	}
	d := n.doc
	var parts []string
	name := d.Name
	if op := d.Operation(); d.Namespace == "aws" && op != "" {
		name += " " + op
	}
	parts = append(parts, name)
	if n.segment {
		parts = append(parts, "[segment]")
	}
	timing := fmt.Sprintf("+%.1fms", (d.StartTime-origin)*1000)
	if d.InProgress || d.EndTime == 0 {
		timing += " in progress"
	} else {
		timing += fmt.Sprintf(" %.1fms", (d.EndTime-d.StartTime)*1000)
	}
	parts = append(parts, timing)
	for _, f := range []struct {
		name string
		on   bool
	}{{"FAULT", d.Fault}, {"ERROR", d.Error}, {"THROTTLE", d.Throttle}} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	if len(d.Annotations) > 0 {
		keys := make([]string, 0, len(d.Annotations))
		for k := range d.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+short(d.Annotation(k)))
		}
		parts = append(parts, "{"+strings.Join(kv, " ")+"}")
	}
	return strings.Join(parts, "  ")
}

// short keeps long values (digests) readable in a tree line: one over 32
// bytes keeps its first 19 and the mark.
func short(s string) string {
	if len(s) > 32 {
		return domain.Truncate(s, 19+len(domain.Ellipsis), domain.Ellipsis)
	}
	return s
}
