package config

import (
	"fmt"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// decode parses raw into a Config without defaults. Everything works on the
// parsed node tree of the file as written, so that every error carries the
// line the user sees (re-encoding the tree first shifted them).
//
// As a producer (RoleProducer), a credential whose ${VAR} is unset is left
// out, as if the line were absent, instead of failing the load.
func decode(raw []byte, getenv func(string) string, role Role) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg := &Config{}
	if len(root.Content) == 0 {
		return cfg, nil // an empty file: validate says what is missing
	}
	lines, unset, err := expand(&root, getenv)
	if err != nil {
		return nil, err
	}
	top := root.Content[0]
	var skip map[*yaml.Node]bool // credentials left out (unset variables)
	if role == RoleProducer {
		unset, skip = forgiveCredentials(top, unset)
	}
	if len(unset) > 0 {
		return nil, unsetError(unset)
	}
	if err := checkKeys(top, "", configType); err != nil {
		return nil, err
	}
	// Node.Decode ignores keys no field takes: checkKeys has vetted them,
	// and the vendors' credential keys are read next, from the same nodes.
	if err := top.Decode(cfg); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConfig, friendlyYAML(err, lines))
	}
	if err := cfg.readCredentials(top, skip); err != nil {
		return nil, err
	}
	return cfg, nil
}

// forgiveCredentials splits unset into the variables of credential values
// (the keys their endpoint's vendor declares), returned as the nodes to
// skip, and the rest, still errors. It runs after the walk, so a vendor
// given as ${VAR} is known by then.
func forgiveCredentials(top *yaml.Node, unset []unsetVar) (rest []unsetVar, skip map[*yaml.Node]bool) {
	creds := map[*yaml.Node]bool{}
	eps := mappingValue(top, "endpoints")
	if eps == nil || eps.Kind != yaml.MappingNode {
		return unset, nil
	}
	for i := 0; i+1 < len(eps.Content); i += 2 {
		n := eps.Content[i+1]
		vendor := mappingValue(n, "vendor")
		if vendor == nil {
			continue
		}
		d, err := (&Endpoint{Vendor: vendor.Value}).Descriptor()
		if err != nil {
			continue
		}
		for j := 0; j+1 < len(n.Content); j += 2 {
			if _, ok := d.Credential(n.Content[j].Value); ok {
				creds[n.Content[j+1]] = true
			}
		}
	}
	skip = map[*yaml.Node]bool{}
	for _, u := range unset {
		if creds[u.node] {
			skip[u.node] = true
		} else {
			rest = append(rest, u)
		}
	}
	return rest, skip
}

// readCredentials fills each endpoint's Credentials with the keys its
// vendor's descriptor declares, but for the values in skip. Endpoints of
// unknown vendors are left to validate, which names the vendor.
func (c *Config) readCredentials(top *yaml.Node, skip map[*yaml.Node]bool) error {
	eps := mappingValue(top, "endpoints")
	if eps == nil {
		return nil
	}
	for i := 0; i+1 < len(eps.Content); i += 2 {
		name, n := eps.Content[i].Value, eps.Content[i+1]
		e := c.Endpoints[name]
		if e == nil || n.Kind != yaml.MappingNode {
			continue
		}
		d, err := e.Descriptor()
		if err != nil {
			continue
		}
		e.Credentials = Credentials{}
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, v := n.Content[j], n.Content[j+1]
			if _, ok := d.Credential(k.Value); !ok {
				continue
			}
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("%w: line %d: endpoints.%s.%s: must be a string", ErrConfig, v.Line, name, k.Value)
			}
			if v.Tag != "!!null" && !skip[v] {
				e.Credentials[k.Value] = v.Value
			}
		}
	}
	return nil
}

// mappingValue returns the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var lineRef = regexp.MustCompile(`line (\d+): `)

// friendlyYAML gives every "line N:" of a yaml.v3 message the dotted key
// path of the value on that line.
func friendlyYAML(err error, lines map[int]string) string {
	return lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(lineRef.FindStringSubmatch(m)[1])
		if path, ok := lines[n]; ok {
			return fmt.Sprintf("line %d: %s: ", n, path)
		}
		return m
	})
}
