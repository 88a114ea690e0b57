package events

import "strings"

// validPushEventID accepts the UUIDs EventBridge assigns and anything of the same
// tame alphabet, so an ID is safe in keys, logs and file names.
func validPushEventID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(pushAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// validPushMediaType checks RFC 6838's type/subtype syntax (restricted names of
// at most 127 characters each, no parameters), which every OCI and Docker
// media type follows.
func validPushMediaType(s string) bool {
	slash := strings.IndexByte(s, '/')
	if slash < 0 {
		return false
	}
	return pushRestrictedName(s[:slash]) && pushRestrictedName(s[slash+1:])
}

func pushRestrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !pushAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !pushAlnum(c) && !strings.ContainsRune("!#$&-^_.+", rune(c)) {
			return false
		}
	}
	return true
}

func pushAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
