package canon

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// checkFieldNames refuses an object member whose name matches a struct
// field of v only case-insensitively: encoding/json would decode
// {"Kind":…} into the field tagged "kind", so two byte strings would decode
// to one value (malleability). It walks the decoded JSON beside v's type,
// stopping at types that decode themselves (json.Unmarshaler, such as
// json.RawMessage, or encoding.TextUnmarshaler) and at interfaces.
func checkFieldNames(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return walkNames(doc, reflect.TypeOf(v), "")
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func walkNames(doc any, t reflect.Type, at string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || t.Implements(jsonUnmarshaler) ||
		reflect.PointerTo(t).Implements(textUnmarshaler) || t.Implements(textUnmarshaler) {
		return nil
	}
	switch d := doc.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := map[string]reflect.Type{}
			structFields(t, fields)
			for k, sub := range d {
				ft, ok := fields[k]
				if !ok {
					return fmt.Errorf("json: unknown field %q%s (field names are case-sensitive)", k, where(at))
				}
				if err := walkNames(sub, ft, at+"."+k); err != nil {
					return err
				}
			}
		case reflect.Map:
			for k, sub := range d {
				if err := walkNames(sub, t.Elem(), at+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, sub := range d {
				if err := walkNames(sub, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// structFields collects the JSON member names of struct type t with their
// types, as encoding/json names them (tags, embedded structs flattened).
func structFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				structFields(et, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := out[name]; !dup {
			out[name] = f.Type
		}
	}
}

func where(at string) string {
	if at == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(at, ".")
}
