package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var varRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// unsetVar is one ${VAR} whose variable is empty, and where it is used.
type unsetVar struct {
	name, path string
	line       int
	node       *yaml.Node // the scalar that uses it
}

// expansion walks the parsed file once before decoding: it replaces ${VAR}
// in scalar values, checks typed values, and records per line the key path
// of the scalar on it, so that yaml.v3's "line N:" errors can name the key.
type expansion struct {
	getenv func(string) string
	lines  map[int]string
	unset  []unsetVar
}

// expand runs the walk and returns the unset variables for decode to judge
// (a producer forgives those of credentials, see RoleProducer). Every unset
// variable left is reported in one error (unsetError), because an empty
// secret would fail far later and vaguer, and one run per missing variable
// is a slow way to find the next one.
func expand(root *yaml.Node, getenv func(string) string) (lines map[int]string, unset []unsetVar, err error) {
	x := &expansion{getenv: getenv, lines: map[int]string{}}
	if err := x.walk(root, ""); err != nil {
		return nil, nil, err
	}
	return x.lines, x.unset, nil
}

func (x *expansion) walk(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := x.walk(c, p); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := joinKey(path, n.Content[i].Value)
			x.note(n.Content[i].Line, p)
			if err := x.walk(n.Content[i+1], p); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		return x.scalar(n, path)
	}
	return nil
}

// note records that path is on line; on a line with several (a flow
// mapping) the deepest path is the likelier culprit.
func (x *expansion) note(line int, path string) {
	if prev, taken := x.lines[line]; !taken || strings.Count(path, ".") > strings.Count(prev, ".") {
		x.lines[line] = path
	}
}

func (x *expansion) scalar(n *yaml.Node, path string) error {
	x.note(n.Line, path)
	unset := len(x.unset)
	n.Value = varRe.ReplaceAllStringFunc(n.Value, func(m string) string {
		name := varRe.FindStringSubmatch(m)[1]
		v := x.getenv(name)
		if v == "" {
			x.unset = append(x.unset, unsetVar{name: name, path: path, line: n.Line, node: n})
		}
		return v
	})
	if len(x.unset) > unset {
		return nil // the value is incomplete: its type says nothing yet
	}
	return checkType(path, n)
}

func unsetError(unset []unsetVar) error {
	if len(unset) == 1 {
		u := unset[0]
		return fmt.Errorf("%w: %s (line %d): environment variable %s is not set", ErrConfig, u.path, u.line, u.name)
	}
	each := make([]string, len(unset))
	for i, u := range unset {
		each[i] = fmt.Sprintf("%s (%s, line %d)", u.name, u.path, u.line)
	}
	return fmt.Errorf("%w: environment variables not set: %s", ErrConfig, strings.Join(each, ", "))
}

// joinKey appends key to a dotted path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// typed keys are checked before decoding so that a bad value names its key
// even in a one-line flow mapping, where yaml.v3 can only name the line.
var (
	durationKeys = map[string]bool{"timeout": true, "quota_pause": true, "window": true}
	numberKeys   = map[string]bool{"rate": true, "burst": true, "concurrency": true, "max_retry": true}
)

func checkType(path string, n *yaml.Node) error {
	key := path[strings.LastIndex(path, ".")+1:]
	switch {
	case countKeys[key]:
		return checkCount(path, n)
	case durationKeys[key]:
		if _, err := time.ParseDuration(n.Value); err != nil {
			return fmt.Errorf("%w: %s (line %d): %q is not a duration like 30s or 10m", ErrConfig, path, n.Line, n.Value)
		}
	case numberKeys[key]:
		if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
			return fmt.Errorf("%w: %s (line %d): %q is not a number", ErrConfig, path, n.Line, n.Value)
		}
	}
	return nil
}
