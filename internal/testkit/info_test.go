package testkit

import (
	"maps"
	"testing"
)

func TestInfoFields(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]string
	}{
		{"an empty reply", "", map[string]string{}},
		{"sections, their headers and the blank line between them",
			"# Server\r\nredis_version:7.2.4\r\nprocess_id:12\r\n\r\n# Persistence\r\nloading:0\r\n",
			map[string]string{"redis_version": "7.2.4", "process_id": "12", "loading": "0"}},
		{"a value with colons and an empty value",
			"member0:name=n0,addr=127.0.0.1:7946\r\nmaster_host:\r\n",
			map[string]string{"member0": "name=n0,addr=127.0.0.1:7946", "master_host": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := InfoFields(tc.text); !maps.Equal(got, tc.want) {
				t.Errorf("InfoFields(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}
