//go:build benchxray

package floorstart

import "ecrscanner/infra/tracing"

func init() {
	tracing.Setup(nil)
	instrument = tracing.Instrument
}
