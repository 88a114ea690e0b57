// Package local runs the stack on one machine: moto (see motoserver) holds
// the AWS resources, deployed from the project's own CloudFormation template,
// and this package plays the two roles moto does not — the EventBridge Pipe,
// and the Lambda service invoking each function's real binary — plus an
// in-memory OCI registry standing in for ECR's registry endpoint. What moto's
// CloudFormation skips, and the runner therefore creates itself, is listed in
// motoserver.CloudFormationSkips.
package local
