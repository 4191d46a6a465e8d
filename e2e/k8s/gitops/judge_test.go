package main

// Offline checks of the judge against the repository's health.lua (go test, no cluster).

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const healthLua = "../../../examples/argocd/health.lua"

func judgeYAML(t *testing.T, doc string) string {
	t.Helper()
	script, err := os.ReadFile(healthLua)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := readObjects(strings.NewReader(doc))
	if err != nil || len(objs) != 1 {
		t.Fatalf("readObjects: %v (%d objects)", err, len(objs))
	}
	return Judge(objs[0], string(script), []string{"manofwar.io/*"}).String()
}

const head = `apiVersion: manofwar.io/v1alpha1
kind: MediaLibrary
metadata: {name: movies, namespace: media, generation: 2}
`

func conds(ready, reconciling, stalled, reason, message string) string {
	c := func(t, s, m string) string {
		return `    - {type: ` + t + `, status: "` + s + `", reason: ` + reason + `, message: "` + m + `", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 2}` + "\n"
	}
	// As the operator writes them: Ready always carries the message, the others when True.
	msg := func(s string) string {
		if s == "True" {
			return message
		}
		return ""
	}
	return "  conditions:\n" + c("Ready", ready, message) + c("Reconciling", reconciling, msg(reconciling)) + c("Stalled", stalled, msg(stalled))
}

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"no status", head,
			"kstatus=Current argo=Progressing message=Waiting for the manofwar operator"},
		{"stale generation", head + "status:\n  observedGeneration: 1\n" + conds("True", "False", "False", "Ready", "up"),
			"kstatus=InProgress argo=Progressing message=Waiting for the operator to observe generation 2"},
		{"reconciling", head + "status:\n  observedGeneration: 2\n" + conds("False", "True", "False", "ServerStarting", "waiting"),
			"kstatus=InProgress argo=Progressing message=waiting"},
		{"ready", head + "status:\n  observedGeneration: 2\n" + conds("True", "False", "False", "Ready", "library server up"),
			"kstatus=Current argo=Healthy message=library server up"},
		{"stalled", head + "status:\n  observedGeneration: 2\n" + conds("False", "False", "True", "ProfileNotFound", "TranscodeProfile \\\"nope\\\" not found"),
			`kstatus=Failed argo=Degraded message=TranscodeProfile "nope" not found`},
		{"terminating", strings.Replace(head, "generation: 2}", "generation: 2, deletionTimestamp: \"2026-01-01T00:00:00Z\", finalizers: [x]}", 1) +
			"status:\n  observedGeneration: 2\n" + conds("True", "False", "False", "Ready", "up"),
			"kstatus=Terminating argo=Progressing message=Pending deletion"},
		{"other kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: media}\n",
			"kstatus=Current argo=Unknown message=the health.lua does not apply to ConfigMap (Argo CD would use its built-in check, if any)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := judgeYAML(t, tc.doc); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestLuaLikeArgoCD(t *testing.T) {
	objs, _ := readObjects(strings.NewReader(head))
	for _, tc := range []struct{ script, status, msg, err string }{
		{`return {status = "Bogus"}`, "Unknown", "Lua returned an invalid health status", ""},
		{`return "Healthy"`, "", "", "expect table output from Lua script, not string"},
		{`return {status = "Healthy", message = obj.metadata.name .. "/" .. tostring(obj.metadata.generation)}`, "Healthy", "movies/2", ""},
		{`return {status = string.upper("healthy")}`, "", "", "string"}, // no string library, as in Argo CD
		{`while true do end`, "", "", "context deadline exceeded"},
	} {
		st, msg, err := RunHealthLua(objs[0], tc.script)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.script, err, tc.err)
			}
			continue
		}
		if err != nil || st != tc.status || msg != tc.msg {
			t.Errorf("%s: got %q %q %v, want %q %q", tc.script, st, msg, err, tc.status, tc.msg)
		}
	}
}

func TestArgs(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseArgs([]string{"--health-lua", "h.lua", "MediaLibrary", "media", "--timeout", "5s", "movies", "--wait-for", "kstatus=Current"}, &stderr)
	if err != nil || strings.Join(o.args, " ") != "MediaLibrary media movies" || o.waitFor != "kstatus=Current" || o.timeout.Seconds() != 5 {
		t.Fatalf("flags among arguments: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"MediaLibrary", "media", "movies"},                                     // no --health-lua
		{"--health-lua", "h.lua", "MediaLibrary", "media"},                      // two arguments
		{"--health-lua", "h.lua", "--file", "x.yaml", "MediaLibrary", "a", "b"}, // --file and arguments
		{"--health-lua", "h.lua", "--bogus", "MediaLibrary", "a", "b"},
	} {
		if _, err := parseArgs(bad, &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
