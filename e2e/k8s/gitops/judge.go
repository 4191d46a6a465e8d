package main

// How Flux and Argo CD judge one object, with their own code paths:
//   - Flux: kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute), what its Kustomization
//     health checks (`wait: true`) run.
//   - Argo CD: gitops-engine's GetResourceHealth (a deletionTimestamp means Progressing
//     "Pending deletion", else the resource customization's health.lua) and Argo CD's
//     util/lua: the object goes in as the global `obj` (decodeValue below is Argo CD's), the
//     script returns a table whose `status` must be a known health code.

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Argo CD's health codes (gitops-engine pkg/health).
const (
	argoUnknown     = "Unknown"
	argoProgressing = "Progressing"
	argoHealthy     = "Healthy"
	argoSuspended   = "Suspended"
	argoDegraded    = "Degraded"
	argoMissing     = "Missing"
)

// Verdict is what the tool prints: `kstatus=<K> argo=<A> message=<M>`.
type Verdict struct {
	KStatus string
	Argo    string
	Message string // Argo CD's health message
	// KStatusMessage is kstatus's own message (printed with -v only).
	KStatusMessage string
}

func (v Verdict) String() string {
	// One line whatever the message holds.
	msg := strings.Join(strings.Fields(v.Message), " ")
	return fmt.Sprintf("kstatus=%s argo=%s message=%s", v.KStatus, v.Argo, msg)
}

// NotFound is the verdict for an object that is not there: kstatus's NotFound, Argo CD's Missing
// (Argo CD gives a missing resource no message).
func NotFound() Verdict {
	return Verdict{KStatus: status.NotFoundStatus.String(), Argo: argoMissing, KStatusMessage: "Resource not found"}
}

// Judge computes both verdicts for a live (or file) object. The health script applies when the
// object's Argo CD key (`group/Kind`, or `Kind` for the core group) matches one of luaKeys
// (glob patterns, as Argo CD's resource.customizations keys).
func Judge(obj *unstructured.Unstructured, script string, luaKeys []string) Verdict {
	v := Verdict{}
	if res, err := status.Compute(obj); err != nil {
		v.KStatus, v.KStatusMessage = status.UnknownStatus.String(), err.Error()
	} else {
		v.KStatus, v.KStatusMessage = res.Status.String(), res.Message
	}
	v.Argo, v.Message = argoHealth(obj, script, luaKeys)
	return v
}

// ArgoKey is Argo CD's GetConfigMapKey: `group/Kind`, or `Kind` in the core group.
func ArgoKey(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	if gvk.Group == "" {
		return gvk.Kind
	}
	return gvk.Group + "/" + gvk.Kind
}

func luaApplies(key string, luaKeys []string) bool {
	for _, pattern := range luaKeys {
		if ok, _ := path.Match(pattern, key); ok {
			return true
		}
	}
	return false
}

// argoHealth follows gitops-engine's GetResourceHealth with our health.lua as the override.
func argoHealth(obj *unstructured.Unstructured, script string, luaKeys []string) (string, string) {
	if obj.GetDeletionTimestamp() != nil {
		return argoProgressing, "Pending deletion"
	}
	key := ArgoKey(obj)
	if !luaApplies(key, luaKeys) {
		// Argo CD would use a built-in check for a few core kinds (Deployment, Pod, ...) and
		// show no health at all for the rest; this tool has neither.
		return argoUnknown, fmt.Sprintf("the health.lua does not apply to %s (Argo CD would use its built-in check, if any)", key)
	}
	st, msg, err := RunHealthLua(obj, script)
	if err != nil {
		// GetResourceHealth: an override's error is Unknown with the error as the message.
		return argoUnknown, err.Error()
	}
	return st, msg
}

// RunHealthLua is Argo CD's VM.ExecuteHealthLua: a fresh state with only the package, base and
// table libraries (UseOpenLibs is false for resource customizations; Argo CD's "safe os" with
// os.time/os.date is left out), a one-second limit, `obj` set, the script's returned table
// checked for a valid health code.
func RunHealthLua(obj *unstructured.Unstructured, script string) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret := l.Get(-1)
	table, ok := ret.(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", ret.Type().String())
	}
	// Argo CD encodes the table to JSON (layeh.com/gopher-json) and unmarshals a HealthStatus
	// {status, message}; the same, for the two fields it reads.
	hs := struct {
		Status  string `json:"status,omitempty"`
		Message string `json:"message,omitempty"`
	}{}
	raw := map[string]any{}
	for _, field := range []string{"status", "message"} {
		switch v := table.RawGetString(field).(type) {
		case lua.LString:
			raw[field] = string(v)
		case *lua.LNilType:
		case lua.LNumber:
			raw[field] = float64(v)
		case lua.LBool:
			raw[field] = bool(v)
		default:
			raw[field] = v.String()
		}
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &hs); err != nil {
		return "", "", err
	}
	switch hs.Status {
	case argoUnknown, argoProgressing, argoSuspended, argoHealthy, argoDegraded, argoMissing:
		return hs.Status, hs.Message, nil
	}
	return argoUnknown, "Lua returned an invalid health status", nil
}

// decodeValue is Argo CD's (util/lua/lua.go): JSON values to Lua values.
func decodeValue(L *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := L.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(L, item))
		}
		return arr
	case map[string]any:
		tbl := L.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(L, item))
		}
		return tbl
	case nil:
		return lua.LNil
	}
	return lua.LNil
}
