package events_test

import (
	"errors"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/events"
)

func TestPushAccountFallsBackToTheRepositoryARN(t *testing.T) {
	const digest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
	event := func(resources string) []byte {
		return []byte(`{"version":"0","id":"e1","detail-type":"ECR Image Action","source":"aws.ecr","time":"2026-11-25T12:00:00Z","region":"us-east-1","resources":` + resources +
			`,"detail":{"result":"SUCCESS","repository-name":"team/app","image-digest":"` + digest + `","action-type":"PUSH","image-tag":"v1"}}`)
	}
	tests := []struct {
		name      string
		resources string
		account   string
	}{
		{"repository ARN gives the account", `["arn:aws:ecr:us-east-1:210987654321:repository/team/app"]`, "210987654321"},
		{"ARN of another repository is ignored", `["arn:aws:ecr:us-east-1:210987654321:repository/team/other"]`, ""},
		{"ARN in another region is ignored", `["arn:aws:ecr:eu-west-1:210987654321:repository/team/app"]`, ""},
		{"no resources", `[]`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := events.DecodePush(event(tc.resources))
			if tc.account == "" {
				if !errors.Is(err, domain.ErrInvalidAccount) {
					t.Fatalf("DecodePush = %+v, %v; want an invalid account", req, err)
				}
				return
			}
			if err != nil || req.Ref.Account != tc.account {
				t.Fatalf("DecodePush = %+v, %v; want account %s", req.Ref, err, tc.account)
			}
		})
	}
}
