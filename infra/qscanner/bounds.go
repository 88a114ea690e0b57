package qscanner

import (
	"strings"

	"ecrscanner/domain"
)

// QScanner's metadata travels further than the S3 report: Platform and
// QScannerVersion are copied onto the scan record (a DynamoDB item, at most
// 400 KB) and into every bus event (at most 256 KB), and the handlers put them
// in alerts and findings. A value the size of the output file would make the
// record write fail, or the event too big for EventBridge after the record
// was written, so the parser bounds them here, where they enter. The
// findings that reach the record's Summary are bounded by domain.Summarize.
//
// DynamoDB counts an item's size as the UTF-8 bytes of its attribute names
// and values (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html);
// EventBridge counts a PutEvents entry as the UTF-8 bytes of its Source,
// DetailType, Detail and Resources plus 14 for Time
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
// Both limits are bytes, and so are these.
const (
	// maxPlatform bounds os/arch[/variant]. OCI platform values are short
	// words ("linux/arm64/v8" is 14 bytes); 64 holds any real one and is
	// what the alert shows.
	maxPlatform = 64
	// maxVersion bounds QScannerVersion: a release ("4.8.0-2") with room for
	// a semver pre-release and build suffix; the alert shows 64 bytes too.
	maxVersion = 64
	// maxOS bounds the OS family and release ("ubuntu 22.04",
	// "Red Hat Enterprise Linux 9.4"), which only the S3 report carries.
	maxOS = 128
	// maxScanType and maxScanTypes bound ScansPerformed: QSCANNER.md lists
	// eight scan types, each a short word; anything longer is not one.
	maxScanType, maxScanTypes = 32, 16
)

// boundReport cuts the metadata QScanner wrote to the limits above. A
// platform that is not os/arch[/variant], or is longer than maxPlatform,
// reads as unknown: the runner then records the platform it asked for, as
// for a report that names none (a wrong platform string is not worth failing
// a scan whose findings are good). Versions and OS names are made one line
// and cut with an ellipsis.
func boundReport(rep *domain.Report) {
	rep.Platform = boundPlatform(rep.Platform)
	rep.QScannerVersion = oneLine(rep.QScannerVersion, maxVersion)
	rep.OS = oneLine(rep.OS, maxOS)
	var types []string
	for _, t := range rep.ScanTypes {
		if len(t) <= maxScanType && len(types) < maxScanTypes {
			types = append(types, oneLine(t, maxScanType))
		}
	}
	rep.ScanTypes = types
}

func boundPlatform(p string) string {
	p = strings.ToLower(p)
	if len(p) > maxPlatform || !platformRE.MatchString(p) {
		return ""
	}
	return p
}

// oneLine makes s a single line of printable text, at most limit bytes.
func oneLine(s string, limit int) string {
	if len(s) > 4*limit {
		// Whatever lies past this cannot survive the cut: do not clean it.
		s = s[:4*limit]
	}
	s = strings.Join(strings.Fields(strip(s)), " ")
	return domain.Truncate(s, limit, domain.Ellipsis)
}
