package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vendorq/vendorq/vendorclient"
)

var (
	configType   = reflect.TypeOf(Config{})
	endpointType = reflect.TypeOf(Endpoint{})
	// ownPackage: only this package's structs are checked key by key
	// (a time.Time, say, is a scalar in YAML).
	ownPackage = configType.PkgPath()
)

// checkKeys reports the first key of n that type t does not take, with the
// key's own line and dotted path. The keys a struct takes are its yaml
// tags; an endpoint also takes its vendor's credential keys.
func checkKeys(n *yaml.Node, path string, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], joinKey(path, n.Content[i].Value), t.Elem()); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			if err := checkKeys(c, fmt.Sprintf("%s[%d]", path, i), t.Elem()); err != nil {
				return err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct && t.PkgPath() == ownPackage:
		return checkStructKeys(n, path, t)
	}
	return nil // a wrong shape is left to Decode, which names its line
}

func checkStructKeys(n *yaml.Node, path string, t reflect.Type) error {
	fields := yamlFields(t)
	where := "in " + path
	if path == "" {
		where = "at the top level"
	}
	if t == endpointType {
		vendor := mappingValue(n, "vendor")
		if vendor == nil {
			return nil // validate reports the missing vendor
		}
		d, err := (&Endpoint{Vendor: vendor.Value}).Descriptor()
		if errors.Is(err, vendorclient.ErrUnknownVendor) {
			return nil // validate names the unknown vendor and the known ones
		}
		for _, c := range d.Credentials {
			fields[c.Key] = reflect.TypeOf("")
		}
		where = "in a " + d.Name + " endpoint"
		if d.Kind != vendorclient.KindSMS {
			for k := range smsOnlyKeys {
				delete(fields, k) // not in a record endpoint's list of known keys either
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok && t == endpointType && smsOnlyKeys[k.Value] {
			vendor := mappingValue(n, "vendor").Value
			return fmt.Errorf("%w: line %d: %s: only SMS endpoints take %s (%s is a %s vendor)",
				ErrConfig, k.Line, joinKey(path, k.Value), k.Value, vendor, (&Endpoint{Vendor: vendor}).Kind())
		}
		if k.Value == "phone_limits" && t == endpointType {
			if err := checkPhoneLimits(joinKey(path, k.Value), n.Content[i+1]); err != nil {
				return err
			}
		}
		if !ok {
			return fmt.Errorf("%w: line %d: %s: unknown key %q %s (known: %s)",
				ErrConfig, k.Line, joinKey(path, k.Value), k.Value, where, strings.Join(sortedKeys(fields), ", "))
		}
		if err := checkKeys(n.Content[i+1], joinKey(path, k.Value), ft); err != nil {
			return err
		}
	}
	return nil
}

// yamlFields maps the YAML keys of struct t to their field types, the way
// yaml.v3 names them (the tag's name, else the lower-cased field name).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
