package sip

import (
	"slices"
	"testing"
)

func TestKeyNamesAreHomers(t *testing.T) {
	want := []string{
		"method", "cseq", "callid", "callid_aleg", "ruri_user", "ruri_domain",
		"from_user", "from_domain", "from_tag", "to_user", "to_domain", "to_tag",
		"contact_user", "contact_domain", "pid_user", "auth_user", "user_agent",
		"server", "content_type", "reason", "diversion", "expires", "via",
	}
	var got []string
	for k := Key(1); k < numKeys; k++ {
		got = append(got, k.String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("keys\n got %q\nwant %q", got, want)
	}
}

func TestParseKeyRoundTrips(t *testing.T) {
	for k := Key(1); k < numKeys; k++ {
		got, ok := ParseKey(k.String())
		if !ok || got != k {
			t.Errorf("ParseKey(%q) = %v, %v; want %v, true", k.String(), got, ok, k)
		}
	}
}

func TestParseKeyRejectsUnknownNames(t *testing.T) {
	for _, s := range []string{"", "Method", "ruri", "x-foo", "sip.Key(0)", "callid "} {
		if k, ok := ParseKey(s); ok {
			t.Errorf("ParseKey(%q) = %v, true; want false", s, k)
		}
	}
}

func TestInvalidKeyString(t *testing.T) {
	for _, tt := range []struct {
		k    Key
		want string
	}{{0, "sip.Key(0)"}, {numKeys, "sip.Key(24)"}, {255, "sip.Key(255)"}} {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Key(%d).String() = %q, want %q", uint8(tt.k), got, tt.want)
		}
	}
}

func TestDefaultKeysAreHomersDefaultOrder(t *testing.T) {
	want := []Key{KeyRURIUser, KeyRURIDomain, KeyFromUser, KeyFromTag, KeyToUser, KeyToTag, KeyCallID, KeyCSeq, KeyMethod, KeyUserAgent}
	got := DefaultKeys()
	if !slices.Equal(got, want) {
		t.Fatalf("DefaultKeys() = %v, want %v", got, want)
	}
	got[0] = KeyVia
	if DefaultKeys()[0] != KeyRURIUser {
		t.Fatal("DefaultKeys shares its slice between calls")
	}
}

func TestProfile(t *testing.T) {
	tests := []struct {
		method string
		want   string
	}{
		{"INVITE", "call"}, {"ACK", "call"}, {"BYE", "call"}, {"CANCEL", "call"},
		{"UPDATE", "call"}, {"PRACK", "call"}, {"REFER", "call"}, {"INFO", "call"},
		{"NOTIFY", "call"},
		{"REGISTER", "registration"},
		{"OPTIONS", "default"}, {"SUBSCRIBE", "default"}, {"PUBLISH", "default"},
		{"MESSAGE", "default"}, {"FOO", "default"}, {"", "default"},
		{"invite", "default"}, {"Register", "default"}, // methods are case-sensitive
		{"INVITE ", "default"},
	}
	for _, tt := range tests {
		if got := Profile([]byte(tt.method)); got != tt.want {
			t.Errorf("Profile(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}
