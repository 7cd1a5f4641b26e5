package config

import (
	"fmt"
	"strings"

	"github.com/keyward/keyward/daemon/proxy/fields"
)

// Field scopes (ProxyApp.FieldScope).
const (
	ScopeEverywhere = "everywhere"
	ScopeByType     = "by_type"
)

// Protection compiles the application's protected fields: the rules for
// JSON and JSON Patch bodies, and the rules for form bodies and query
// strings.
//
// With field_scope "everywhere" (the default) both are the same: every
// entry of fields, deterministic_fields and form_fields protects its name
// in JSON bodies, form bodies and query strings alike (a form name read as
// a path: card[number] and card.number reach card.number). With "by_type",
// fields and deterministic_fields protect JSON bodies, and form_fields plus
// the plain names of deterministic_fields (so that search works) protect
// forms and query strings.
func (a ProxyApp) Protection() (json, form *fields.Rules, err error) {
	m, err := fields.ParseMatching(a.NameMatching)
	if err != nil {
		return nil, nil, fmt.Errorf("name_matching: %w", err)
	}
	switch a.FieldScope {
	case "", ScopeEverywhere:
		json, err = a.AllFields()
		return json, json, err
	case ScopeByType:
		json, err = fields.Compile(fields.Spec{Random: a.Fields, Deterministic: a.DeterministicFields, Matching: m})
		if err != nil {
			return nil, nil, err
		}
		var plain []string
		for _, f := range a.DeterministicFields {
			if !strings.ContainsAny(f, ".[*") {
				plain = append(plain, f)
			}
		}
		form, err = fields.Compile(fields.Spec{Deterministic: plain, FormNames: a.FormFields, Matching: m})
		return json, form, err
	}
	return nil, nil, fmt.Errorf("field_scope %q is not %q or %q", a.FieldScope, ScopeEverywhere, ScopeByType)
}

// AllFields compiles every protected field of the application, whatever
// the body it is in: fields, deterministic_fields and form_fields.
func (a ProxyApp) AllFields() (*fields.Rules, error) {
	m, err := fields.ParseMatching(a.NameMatching)
	if err != nil {
		return nil, fmt.Errorf("name_matching: %w", err)
	}
	return fields.Compile(fields.Spec{Random: a.Fields, Deterministic: a.DeterministicFields, FormNames: a.FormFields, Matching: m})
}

func (a *ProxyApp) validateFields(prefix string) []string {
	var errs []string
	add := func(key string, err error) { errs = append(errs, prefix+"."+key+": "+err.Error()) }
	for _, f := range a.FormFields {
		if strings.TrimSpace(f) == "" {
			add("form_fields", fmt.Errorf("empty field name"))
		}
	}
	_, merr := fields.ParseMatching(a.NameMatching)
	if merr != nil {
		add("name_matching", merr)
	}
	if a.FieldScope != "" && a.FieldScope != ScopeEverywhere && a.FieldScope != ScopeByType {
		add("field_scope", fmt.Errorf("%q is not %q or %q", a.FieldScope, ScopeEverywhere, ScopeByType))
	} else if _, _, err := a.Protection(); err != nil && merr == nil && len(errs) == 0 {
		add("fields", err)
	}
	return errs
}
