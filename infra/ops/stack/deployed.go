package stack

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaskedValue is what CloudFormation's DescribeStacks shows for the value of
// a NoEcho parameter. A Ref to such a parameter cannot be resolved from a
// described stack; see ErrUnknown.
const MaskedValue = "****"

// ErrUnknown is wrapped by Resolve and Condition when a value depends on
// something this model does not know: a NoEcho parameter CloudFormation
// masked, or a function the evaluator does not implement. Callers make no
// claim then (Created reports false) instead of guessing.
var ErrUnknown = errors.New("not known from the deployed stack")

// ErrNotFound is wrapped when the named stack does not exist (or is deleted).
var ErrNotFound = errors.New("stack does not exist")

// Deployed is a stack deployed from a template: what CloudFormation says of
// it (identity, status, parameters, outputs, resources) together with the
// template, so that names resolve and conditions evaluate as they did for
// CloudFormation. It is the one model of a deployed stack for the deployer,
// verify, replay and the local runner.
//
// A Deployed is a value read once; it is not refreshed and not safe for
// concurrent mutation (SetPhysicalID).
type Deployed struct {
	Name string
	// ID is the stack's ARN; Partition, Region and Account are read from it.
	ID                         string
	Partition, Region, Account string
	Status                     string
	Reason                     string
	LastUpdated                time.Time
	// Params holds the parameter values. Those of NoEcho parameters read
	// MaskedValue when CloudFormation described the stack.
	Params  map[string]string
	Outputs map[string]string
	// Resources are sorted by logical ID.
	Resources []DeployedResource
	// Template is the template the stack was deployed from; RawTemplate the
	// text it was parsed from, when known.
	Template    *Template
	RawTemplate []byte
}

// DeployedResource is one resource of a deployed stack, as CloudFormation
// lists it.
type DeployedResource struct {
	LogicalID  string
	Type       string
	PhysicalID string
	Status     string
	Reason     string
}

// Resource returns the deployed resource with the logical ID, if the stack
// has it.
func (s *Deployed) Resource(logicalID string) (DeployedResource, bool) {
	i := sort.Search(len(s.Resources), func(i int) bool { return s.Resources[i].LogicalID >= logicalID })
	if i < len(s.Resources) && s.Resources[i].LogicalID == logicalID {
		return s.Resources[i], true
	}
	return DeployedResource{}, false
}

// PhysicalID returns the physical ID of a resource, or "" when the stack has
// none for it.
func (s *Deployed) PhysicalID(logicalID string) string {
	r, _ := s.Resource(logicalID)
	return r.PhysicalID
}

// SetPhysicalID records the physical ID of a resource created outside
// CloudFormation for the stack (the local runner creates what moto's
// CloudFormation skips), so that Refs to it resolve.
func (s *Deployed) SetPhysicalID(logicalID, physicalID string) {
	i := sort.Search(len(s.Resources), func(i int) bool { return s.Resources[i].LogicalID >= logicalID })
	if i < len(s.Resources) && s.Resources[i].LogicalID == logicalID {
		s.Resources[i].PhysicalID = physicalID
		return
	}
	r := DeployedResource{LogicalID: logicalID, PhysicalID: physicalID}
	if s.Template != nil {
		r.Type = s.Template.Resources[logicalID].Type
	}
	s.Resources = append(s.Resources, DeployedResource{})
	copy(s.Resources[i+1:], s.Resources[i:])
	s.Resources[i] = r
}

// Created reports whether the template creates the resource for this stack's
// parameters: it has no condition, or its condition holds. A condition that
// cannot be evaluated (ErrUnknown) counts as false, so callers make no claim
// about the resource.
func (s *Deployed) Created(logicalID string) bool {
	if s.Template == nil {
		return false
	}
	r, ok := s.Template.Resources[logicalID]
	if !ok {
		return false
	}
	if r.Condition == "" {
		return true
	}
	holds, err := s.Condition(r.Condition)
	return err == nil && holds
}

// ARN builds the ARN of a resource of this stack's partition, region and
// account: ARN("events", "event-bus/x").
func (s *Deployed) ARN(service, resource string) string {
	return ARN(s.Partition, service, s.Region, s.Account, resource)
}

// ARN builds an ARN from its parts.
func ARN(partition, service, region, account, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource)
}

// setIdentity reads partition, region and account from the stack ID,
// arn:partition:cloudformation:region:account:stack/name/uuid.
func (s *Deployed) setIdentity() error {
	parts := strings.SplitN(s.ID, ":", 6)
	if len(parts) != 6 || parts[1] == "" || parts[3] == "" || parts[4] == "" {
		return fmt.Errorf("stack %s: unexpected stack ID %q", s.Name, s.ID)
	}
	s.Partition, s.Region, s.Account = parts[1], parts[3], parts[4]
	return nil
}
