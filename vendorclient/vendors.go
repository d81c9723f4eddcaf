package vendorclient

// Helpers the vendors' descriptors share. Each vendor registers its
// Descriptor from its own file (baibaoyun.go, yesapi.go, dhgjcloud.go,
// caihcom.go): what the rest of vendorq needs to know (defaults,
// credentials, table form) next to its protocol.

// records wraps a record constructor's result, so that a failed
// constructor never leaves a typed nil in Client.Records.
func records[C RecordCreator](c C, err error) (Client, error) {
	if err != nil {
		return Client{}, err
	}
	return Client{Records: c}, nil
}
