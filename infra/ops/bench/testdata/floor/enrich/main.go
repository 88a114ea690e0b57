// Command enrich is the floor of the enrich function (see floorstart): it
// builds no SDK client and loads no AWS configuration, as the enrichment
// function does not.
package main

import "ecrscanner/infra/ops/bench/testdata/floor/floorstart"

func main() { floorstart.Start(nil) }
