package motocompat

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFixLambdaTypes(t *testing.T) {
	in := `{"Configuration":{"Timeout":"900","MemorySize":"2048","Description":"900","Environment":{"Variables":{"CACHE_TTL_DAYS":30,"ENABLED":true,"NAME":"x"}}}}`
	var doc any
	dec := json.NewDecoder(strings.NewReader(in))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	fixed, changed := fixLambdaTypes(doc, "")
	if !changed {
		t.Fatal("nothing changed")
	}
	b, _ := json.Marshal(fixed)
	want := `{"Configuration":{"Description":"900","Environment":{"Variables":{"CACHE_TTL_DAYS":"30","ENABLED":"true","NAME":"x"}},"MemorySize":2048,"Timeout":900}}`
	if string(b) != want {
		t.Errorf("fixed:\n%s\nwant:\n%s", b, want)
	}
}

func TestEmulator(t *testing.T) {
	tests := []struct {
		name                 string
		resourceType, prop   string
		creates, ignoresProp bool
	}{
		{"moto skips pipes", "AWS::Pipes::Pipe", "", false, false},
		{"moto creates functions but drops their architectures", "AWS::Lambda::Function", "Architectures", true, true},
		{"and their layers", "AWS::Lambda::Function", "Layers", true, true},
		{"but keeps their environment", "AWS::Lambda::Function", "Environment", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Emulator
			if e.Creates(tt.resourceType) != tt.creates || e.Ignores(tt.resourceType, tt.prop) != tt.ignoresProp {
				t.Errorf("Creates %v, Ignores %v", e.Creates(tt.resourceType), e.Ignores(tt.resourceType, tt.prop))
			}
		})
	}
}
