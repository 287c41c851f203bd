package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// recordHead is what telling items apart needs of an item record: who
// published it under which title and link, which story it belongs to, and
// the fingerprint of its summary. The record's text, most of its bytes,
// is not part of it.
type recordHead struct {
	ID, Source, URL, Title string
	SourceName             string
	Story                  string
	StorySeq               uint64
	SummaryHash            string
}

var errRecordShape = errors.New("store: record is not a JSON object of the expected shape")

// decodeHead reads a recordHead from an item record. encoding/json checks
// every byte of the text it skips; this walks the record's keys and steps
// over the values it does not need with a search for the closing quote,
// several times faster on records of full articles. It accepts the records
// this package writes; on anything else it returns errRecordShape, and
// the caller decodes with encoding/json instead.
func decodeHead(data []byte, h *recordHead) error {
	_, err := walkObject(data, 0, func(key []byte, data []byte, i int) (int, error) {
		switch string(key) {
		case "item":
			return walkObject(data, i, func(key []byte, data []byte, i int) (int, error) {
				switch string(key) {
				case "id":
					return readString(data, i, &h.ID)
				case "source":
					return readString(data, i, &h.Source)
				case "url":
					return readString(data, i, &h.URL)
				case "title":
					return readString(data, i, &h.Title)
				}
				return skipValue(data, i)
			})
		case "source_name":
			return readString(data, i, &h.SourceName)
		case "story":
			return readString(data, i, &h.Story)
		case "story_seq":
			end := valueEnd(data, i)
			n, err := strconv.ParseUint(string(data[i:end]), 10, 64)
			if err != nil {
				return 0, errRecordShape
			}
			h.StorySeq = n
			return end, nil
		case "summary_hash":
			return readString(data, i, &h.SummaryHash)
		}
		return skipValue(data, i)
	})
	return err
}

// walkObject calls field with each key of the object at data[i] and the
// position of its value; field returns where the value ends. walkObject
// returns where the object ends.
func walkObject(data []byte, i int, field func(key, data []byte, i int) (int, error)) (end int, err error) {
	if i >= len(data) || data[i] != '{' {
		return 0, errRecordShape
	}
	i++
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		keyEnd, err := skipString(data, i)
		if err != nil {
			return 0, err
		}
		key := data[i+1 : keyEnd-1]
		if keyEnd >= len(data) || data[keyEnd] != ':' {
			return 0, errRecordShape
		}
		if i, err = field(key, data, keyEnd+1); err != nil {
			return 0, err
		}
		if i >= len(data) {
			return 0, errRecordShape
		}
		switch data[i] {
		case ',':
			i++
		case '}':
			return i + 1, nil
		default:
			return 0, errRecordShape
		}
	}
}

// skipString returns where the string at data[i] ends, after its quote.
func skipString(data []byte, i int) (int, error) {
	if i >= len(data) || data[i] != '"' {
		return 0, errRecordShape
	}
	for j := i + 1; j < len(data); {
		k := bytes.IndexAny(data[j:], `"\`)
		if k < 0 {
			break
		}
		j += k
		if data[j] == '"' {
			return j + 1, nil
		}
		j += 2 // an escape and the character it escapes
	}
	return 0, errRecordShape
}

// readString decodes the string at data[i] into s.
func readString(data []byte, i int, s *string) (int, error) {
	end, err := skipString(data, i)
	if err != nil {
		return 0, err
	}
	raw := data[i+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		*s = string(raw)
		return end, nil
	}
	if err := json.Unmarshal(data[i:end], s); err != nil {
		return 0, errRecordShape
	}
	return end, nil
}

// skipValue returns where the value at data[i] ends.
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, errRecordShape
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errRecordShape
	}
	return valueEnd(data, i), nil
}

// valueEnd returns where a number, true, false or null at data[i] ends.
func valueEnd(data []byte, i int) int {
	for i < len(data) && data[i] != ',' && data[i] != '}' && data[i] != ']' {
		i++
	}
	return i
}
