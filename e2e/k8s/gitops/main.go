// gitops-judge: what Flux (kstatus) and Argo CD (our health.lua) say about one object.
// See usage below and README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

const usage = `usage:
  gitops-judge [--kubeconfig FILE] --health-lua FILE [--wait-for PREFIX [--timeout 120s]] KIND NAMESPACE NAME
  gitops-judge --health-lua FILE --file OBJ.yaml|- [--wait-for PREFIX]

Prints what Flux (kstatus, sigs.k8s.io/cli-utils) and Argo CD (the health.lua, run with
gopher-lua as Argo CD runs it) say about an object, one line per object:
  kstatus=<Current|InProgress|Failed|Terminating|NotFound|Unknown> argo=<Healthy|Progressing|Degraded|Suspended|Missing|Unknown> message=<Argo CD's message>

KIND: MediaLibrary, TranscodeProfile or PeerGroup (group manofwar.io), or any kind the API server
serves (Kind, Kind.group, or a resource name such as deployments or ml), found through discovery.
NAMESPACE is ignored for cluster-scoped kinds. A missing object is kstatus=NotFound argo=Missing.
The health.lua applies to the kinds --lua-for names; others get argo=Unknown.

--wait-for PREFIX polls (every --interval, and between polls follows a watch of the object)
until the line starts with PREFIX: exit 0 and print it; after --timeout exit 1 and print the
last line. Every distinct line seen goes to stderr as "gitops-judge: +SECONDSs LINE".

Exit: 0 when a line was computed (whatever it says), 1 on API errors (or --wait-for timing
out), 2 on usage errors.

flags:
`

type options struct {
	kubeconfig, healthLua, file, waitFor, luaFor string
	timeout, interval                            time.Duration
	verbose                                      bool
	args                                         []string
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseArgs accepts flags before, between and after the positional arguments.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("gitops-judge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&o.healthLua, "health-lua", "", "the Argo CD health.lua to run (required)")
	fs.StringVar(&o.file, "file", "", "judge the objects in this YAML/JSON file (- for stdin) instead of a live object")
	fs.StringVar(&o.waitFor, "wait-for", "", "poll until the printed line starts with this prefix")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Second, "how long --wait-for waits")
	fs.DurationVar(&o.interval, "interval", time.Second, "how often --wait-for polls")
	fs.StringVar(&o.luaFor, "lua-for", "manofwar.io/MediaLibrary,manofwar.io/TranscodeProfile,manofwar.io/PeerGroup",
		"comma-separated Argo CD keys (group/Kind, globs allowed) the health.lua is configured for")
	fs.BoolVar(&o.verbose, "v", false, "also print kstatus's message to stderr")
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usageError{""}
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// A "--" stops flag parsing: everything after it is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			o.args = append(o.args, rest...)
			break
		}
		o.args = append(o.args, rest[0])
		args = rest[1:]
	}
	switch {
	case o.healthLua == "":
		return nil, usageError{"--health-lua is required"}
	case o.file != "" && len(o.args) != 0:
		return nil, usageError{"--file takes no KIND NAMESPACE NAME"}
	case o.file == "" && len(o.args) != 3:
		return nil, usageError{fmt.Sprintf("want KIND NAMESPACE NAME, got %d arguments", len(o.args))}
	case o.timeout <= 0 || o.interval <= 0:
		return nil, usageError{"--timeout and --interval must be positive"}
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "gitops-judge: %s\n\n", msg)
			fmt.Fprint(stderr, usage)
		}
		return 2
	}
	script, err := os.ReadFile(o.healthLua)
	if err != nil {
		fmt.Fprintf(stderr, "gitops-judge: --health-lua: %v\n", err)
		return 2
	}
	var luaKeys []string
	for _, k := range strings.Split(o.luaFor, ",") {
		if k = strings.TrimSpace(k); k != "" {
			luaKeys = append(luaKeys, k)
		}
	}
	j := judge{script: string(script), luaKeys: luaKeys, verbose: o.verbose, stderr: stderr}
	if o.file != "" {
		return j.file(o, stdout)
	}
	return j.cluster(o, stdout)
}

type judge struct {
	script  string
	luaKeys []string
	verbose bool
	stderr  io.Writer
}

func (j judge) of(obj *unstructured.Unstructured) Verdict {
	v := Judge(obj, j.script, j.luaKeys)
	if j.verbose {
		og, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
		fmt.Fprintf(j.stderr, "gitops-judge: %s %s/%s generation=%d observedGeneration=%d kstatus: %s\n",
			ArgoKey(obj), obj.GetNamespace(), obj.GetName(), obj.GetGeneration(), og, v.KStatusMessage)
	}
	return v
}

// file judges every object in a file (no cluster).
func (j judge) file(o *options, stdout io.Writer) int {
	var r io.Reader = os.Stdin
	if o.file != "-" {
		f, err := os.Open(o.file)
		if err != nil {
			fmt.Fprintf(j.stderr, "gitops-judge: --file: %v\n", err)
			return 2
		}
		defer f.Close()
		r = f
	}
	objs, err := readObjects(r)
	if err != nil {
		fmt.Fprintf(j.stderr, "gitops-judge: --file %s: %v\n", o.file, err)
		return 2
	}
	if len(objs) == 0 {
		fmt.Fprintf(j.stderr, "gitops-judge: --file %s: no objects\n", o.file)
		return 2
	}
	rc := 0
	for _, obj := range objs {
		line := j.of(obj).String()
		fmt.Fprintln(stdout, line)
		if o.waitFor != "" && !strings.HasPrefix(line, o.waitFor) {
			rc = 1
		}
	}
	return rc
}

func readObjects(r io.Reader) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue
		}
		// UnmarshalJSON (UnstructuredJSONScheme) keeps integers int64, as the API machinery
		// hands them to Flux and Argo CD (kstatus reads generations with NestedInt64).
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
}

// target is one live object: KIND NAMESPACE NAME resolved through discovery.
type target struct {
	client    dynamic.Interface
	mapper    meta.ResettableRESTMapper
	lookup    meta.RESTMapper
	kind      string
	namespace string
	name      string
	res       dynamic.ResourceInterface
}

var ourKinds = map[string]string{
	"medialibrary":     "MediaLibrary",
	"transcodeprofile": "TranscodeProfile",
	"peergroup":        "PeerGroup",
}

// resolveKind maps KIND to a resource: our kinds in manofwar.io; else Kind, Kind.group,
// Kind.version.group, or a resource name (plural, singular or short), as kubectl reads them.
func resolveKind(m meta.RESTMapper, arg string) (*meta.RESTMapping, error) {
	if k, ok := ourKinds[strings.ToLower(arg)]; ok {
		return m.RESTMapping(schema.GroupKind{Group: "manofwar.io", Kind: k})
	}
	gvk, gk := schema.ParseKindArg(arg)
	if gvk != nil {
		if mp, err := m.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			return mp, nil
		}
	}
	if mp, err := m.RESTMapping(gk); err == nil {
		return mp, nil
	}
	gvr, gr := schema.ParseResourceArg(strings.ToLower(arg))
	var err error
	found := false
	if gvr != nil {
		var k schema.GroupVersionKind
		if k, err = m.KindFor(*gvr); err == nil {
			gvk, found = &k, true
		}
	}
	if !found {
		var k schema.GroupVersionKind
		if k, err = m.KindFor(gr.WithVersion("")); err != nil {
			return nil, err
		}
		gvk = &k
	}
	return m.RESTMapping(gvk.GroupKind(), gvk.Version)
}

func (t *target) resolve() error {
	if t.res != nil {
		return nil
	}
	mapping, err := resolveKind(t.lookup, t.kind)
	if err != nil {
		t.mapper.Reset() // a CRD may be installed by the next try
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("kind %s: the API server serves no such kind or resource", t.kind)
		}
		return fmt.Errorf("kind %s: %w", t.kind, err)
	}
	ri := t.client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		t.res = ri.Namespace(t.namespace)
	} else {
		t.res = ri
	}
	return nil
}

// get returns the object, or nil when it is not there.
func (t *target) get(ctx context.Context) (*unstructured.Unstructured, error) {
	if err := t.resolve(); err != nil {
		return nil, err
	}
	obj, err := t.res.Get(ctx, t.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}

func (t *target) watch(ctx context.Context, resourceVersion string, timeout time.Duration) (watch.Interface, error) {
	secs := int64(timeout/time.Second) + 1
	return t.res.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", t.name).String(),
		ResourceVersion: resourceVersion,
		TimeoutSeconds:  &secs,
	})
}

func (j judge) cluster(o *options, stdout io.Writer) int {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		fmt.Fprintf(j.stderr, "gitops-judge: kubeconfig: %v\n", err)
		return 2
	}
	cfg.Timeout = 30 * time.Second
	cfg.QPS, cfg.Burst = 50, 100
	cfg.WarningHandler = rest.NoWarnings{}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintf(j.stderr, "gitops-judge: %v\n", err)
		return 1
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		fmt.Fprintf(j.stderr, "gitops-judge: %v\n", err)
		return 1
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	t := &target{
		client: client, mapper: mapper,
		lookup: restmapper.NewShortcutExpander(mapper, cached, func(string) {}),
		kind:   o.args[0], namespace: o.args[1], name: o.args[2],
	}
	if o.waitFor == "" {
		obj, err := t.get(context.Background())
		if err != nil {
			fmt.Fprintf(j.stderr, "gitops-judge: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, j.verdict(obj).String())
		return 0
	}
	return j.wait(o, t, stdout)
}

func (j judge) verdict(obj *unstructured.Unstructured) Verdict {
	if obj == nil {
		return NotFound()
	}
	return j.of(obj)
}

// wait polls (a GET every interval) and follows a watch between polls, so that a state that
// lasts less than the interval is still seen, until a line starts with the prefix.
func (j judge) wait(o *options, t *target, stdout io.Writer) int {
	start := time.Now()
	deadline := start.Add(o.timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	last, lastErr := "", ""
	see := func(line string) bool {
		if line != last {
			fmt.Fprintf(j.stderr, "gitops-judge: +%.1fs %s\n", time.Since(start).Seconds(), line)
			last = line
		}
		return strings.HasPrefix(line, o.waitFor)
	}
	var w watch.Interface
	defer func() {
		if w != nil {
			w.Stop()
		}
	}()
	for {
		obj, err := t.get(ctx)
		if err != nil {
			if msg := err.Error(); msg != lastErr && ctx.Err() == nil {
				fmt.Fprintf(j.stderr, "gitops-judge: +%.1fs %s\n", time.Since(start).Seconds(), msg)
				lastErr = msg
			}
		} else {
			if see(j.verdict(obj).String()) {
				fmt.Fprintln(stdout, last)
				return 0
			}
			if w == nil {
				rv := ""
				if obj != nil {
					rv = obj.GetResourceVersion()
				}
				w, _ = t.watch(ctx, rv, time.Until(deadline)) // no watch: polling alone
			}
		}
		next := time.Now().Add(o.interval)
		for time.Now().Before(next) && ctx.Err() == nil {
			if w == nil {
				select {
				case <-time.After(time.Until(next)):
				case <-ctx.Done():
				}
				break
			}
			timer := time.NewTimer(time.Until(next))
			select {
			case ev, ok := <-w.ResultChan():
				timer.Stop()
				if !ok {
					w = nil
					continue
				}
				var line string
				switch ev.Type {
				case watch.Added, watch.Modified:
					u, isObj := ev.Object.(*unstructured.Unstructured)
					if !isObj {
						continue
					}
					line = j.verdict(u).String()
				case watch.Deleted:
					line = NotFound().String()
				case watch.Error:
					w.Stop()
					w = nil
					continue
				default:
					continue
				}
				if see(line) {
					fmt.Fprintln(stdout, last)
					return 0
				}
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
			}
		}
		if !time.Now().Before(deadline) {
			if last != "" {
				fmt.Fprintln(stdout, last)
			}
			fmt.Fprintf(j.stderr, "gitops-judge: no %q after %s\n", o.waitFor, o.timeout)
			return 1
		}
	}
}
