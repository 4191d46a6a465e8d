// apiserver-check runs the Kubernetes API server's own validation code on manofwar's CRDs and
// example resources, with no server: CustomResourceDefinition validation (structural schema,
// CEL rules compiled and their estimated cost within budget, list-map keys, defaults), then
// each example custom resource through pruning (unknown fields), defaulting, the CRD's OpenAPI
// schema, list-map keys and CEL rules, as a create with fieldValidation=Strict would. Usage: apiserver-check CRD_DIR [MANIFEST...]
// Exit status 1 when anything is refused; "-invalid" expects every manifest to be refused.
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
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsinstall "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type kindSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func main() {
	invalid := flag.Bool("invalid", false, "expect every manifest to be refused")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: apiserver-check [-invalid] CRD_DIR [MANIFEST...]")
		os.Exit(2)
	}
	kinds, ok := loadCRDs(flag.Arg(0))
	for _, path := range flag.Args()[1:] {
		if !checkManifests(path, kinds, *invalid) {
			ok = false
		}
	}
	if !ok {
		os.Exit(1)
	}
}

func loadCRDs(dir string) (map[string]*kindSchema, bool) {
	scheme := runtime.NewScheme()
	apiextensionsinstall.Install(scheme)
	paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(paths)
	kinds := map[string]*kindSchema{}
	ok := len(paths) > 0
	for _, path := range paths {
		data, err := os.ReadFile(path)
		must(err)
		var v1 apiextensionsv1.CustomResourceDefinition
		must(yaml.UnmarshalStrict(data, &v1))
		scheme.Default(&v1)
		var crd apiextensions.CustomResourceDefinition
		must(scheme.Convert(&v1, &crd, nil))
		if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
			ok = false
			for _, e := range errs {
				fmt.Printf("FAIL %s: %v\n", filepath.Base(path), e)
			}
			continue
		}
		version := crd.Spec.Versions[0]
		schema := crd.Spec.Validation
		if version.Schema != nil {
			schema = version.Schema
		}
		structural, err := structuralschema.NewStructural(schema.OpenAPIV3Schema)
		must(err)
		validator, _, err := apiservervalidation.NewSchemaValidator(schema.OpenAPIV3Schema)
		must(err)
		key := crd.Spec.Group + "/" + version.Name + "/" + crd.Spec.Names.Kind
		kinds[key] = &kindSchema{
			structural: structural,
			validator:  validator,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}
		fmt.Printf("ok   %s: accepted by CustomResourceDefinition validation (structural, CEL compiled, cost within budget)\n", filepath.Base(path))
	}
	return kinds, ok
}

func checkManifests(path string, kinds map[string]*kindSchema, expectInvalid bool) bool {
	data, err := os.ReadFile(path)
	must(err)
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	ok := true
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return ok
		}
		must(err)
		// As the API server decodes a body: JSON, whole numbers as int64.
		body, err := yaml.YAMLToJSON(doc)
		must(err)
		var obj map[string]interface{}
		must(k8sjson.Unmarshal(body, &obj))
		if obj == nil {
			continue
		}
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		if !strings.HasPrefix(apiVersion, "manofwar.io/") {
			continue
		}
		name := fmt.Sprintf("%s %s/%v", path, kind, obj["metadata"].(map[string]interface{})["name"])
		ks := kinds[apiVersion+"/"+kind]
		if ks == nil {
			fmt.Printf("FAIL %s: no CRD\n", name)
			ok = false
			continue
		}
		errs := validate(ks, obj)
		switch {
		case len(errs) > 0 && expectInvalid:
			fmt.Printf("ok   %s: refused: %v\n", name, errs.ToAggregate())
		case len(errs) > 0:
			fmt.Printf("FAIL %s: %v\n", name, errs.ToAggregate())
			ok = false
		case expectInvalid:
			fmt.Printf("FAIL %s: accepted, but should be refused\n", name)
			ok = false
		default:
			fmt.Printf("ok   %s: valid (OpenAPI schema and CEL rules)\n", name)
		}
	}
}

// validate does what a create with fieldValidation=Strict does with the body: refuse unknown
// fields, default, OpenAPI-validate, check list sets and maps, run the CEL rules.
func validate(ks *kindSchema, obj map[string]interface{}) field.ErrorList {
	var errs field.ErrorList
	unknown := structuralpruning.PruneWithOptions(obj, ks.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		errs = append(errs, field.Invalid(field.NewPath(path), "", "unknown field"))
	}
	structuraldefaulting.Default(obj, ks.structural)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, ks.validator)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, ks.structural, obj)...)
	celErrs, _ := ks.cel.Validate(context.Background(), nil, ks.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiserver-check:", err)
		os.Exit(2)
	}
}
