package config

// boolean reads property p of r as a boolean: true or false, or the strings "true" and
// "false" (CloudFormation passes parameters as strings). Absent is false.
func (b *builder) boolean(r resource, p, field string) bool {
	switch v := b.value(r, p, field).(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		switch v {
		case "true":
			return true
		case "false":
			return false
		}
	}
	b.bad(r, p, "a boolean")
	return false
}
