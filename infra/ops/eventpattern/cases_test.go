package eventpattern

// The cases EventBridge's own documentation and its matcher's tests
// (aws/event-ruler) state, each with where it comes from. A case "after" a
// source applies what that source states to a smaller pattern or event.

// Sources: EventBridge user guide pages (URL — heading).
const (
	docGuide     = "https://docs.aws.amazon.com/eventbridge/latest/userguide/"
	docPatterns  = docGuide + "eb-event-patterns.html — Amazon EventBridge event patterns (the EC2 instance-termination example)"
	docSyntax    = docGuide + "eb-create-pattern.html — Event pattern syntax"
	docValues    = docGuide + "eb-create-pattern.html — Matching event values"
	docConsider  = docGuide + "eb-create-pattern.html — Considerations when creating event patterns"
	docFieldVals = docGuide + "eb-filtering-data-types.html — Matching events on event field values"
	docArrays    = docGuide + "eb-event-patterns-arrays.html — Arrays in Amazon EventBridge event patterns"
	docNull      = docGuide + "eb-event-patterns-null-values.html — Matching events on null values and empty strings in Amazon EventBridge"
	docPrefix    = docGuide + "eb-create-pattern-operators.html — Comparison operators for use in event patterns: Prefix matching"
	docExists    = docGuide + "eb-create-pattern-operators.html — Comparison operators for use in event patterns: Exists matching (only works on leaf nodes)"
	docDupKey    = docGuide + "eb-event-patterns-content-based-filtering.html — Complex example with multiple matching (note: a key given twice)"
	docPipes     = docGuide + "eb-pipes-event-filtering.html — Amazon EventBridge Pipes filtering (Properly filtering Kinesis and DynamoDB messages)"
)

// Sources: aws/event-ruler tests (file — test name).
const (
	ruler         = "aws/event-ruler src/test/software/amazon/event/ruler/"
	rulerArrays   = ruler + "RulerTest.java — WHEN_JSONContainsArrays_THEN_RulerNoCompileMatchesWork"
	rulerExists   = ruler + "RulerTest.java — WHEN_WeTryToMatchExistsRules_THEN_TheyWork"
	rulerSimple   = ruler + "RulerTest.java — WHEN_WeTryReallySimpleRules_THEN_TheyWork"
	rulerCombos   = ruler + "RulerTest.java — WHEN_WeWriteRulesToMatchVariousFieldCombos_THEN_TheyWork"
	rulerACExists = ruler + "ACMachineTest.java — testACWithExistFalseRule"
	rulerDupKey   = ruler + "MachineTest.java — testDuplicateKeyLastOneWins"
	rulerNumber   = ruler + "JsonRuleCompilerTest.java — testCompile (a literal number compiles to NUMERIC_EQ and EXACT)"
	// correctness-cases.json is run by StructuredFinderTest.structuredMatchesACOnAllCases,
	// which holds the array-consistent matcher (ACFinder) as the reference.
	rulerCorrect = ruler + "StructuredFinderTest.java — structuredMatchesACOnAllCases, src/test/resources/correctness-cases.json case "
)

// Events the sources use.
const (
	ec2Terminated = `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111122223333","time":"2017-12-22T18:43:48Z","region":"us-west-1","resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],"detail":{"instance-id":"i-1234567890abcdef0","state":"terminated"}}`
	ec2Pending    = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-abcd1111","state":"pending"}}`
	ec2CCount     = `{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],"detail":{"c-count":{"c1":100}}}`
	asgLaunch     = `{"version":"0","id":"3e3c153a-8339-4e30-8c35-687ebef853fe","detail-type":"EC2 Instance Launch Successful","source":"aws.autoscaling","account":"123456789012","time":"2015-11-11T21:31:47Z","region":"us-east-1","resources":[],"detail":{"eventVersion":"","responseElements":null}}`
	macieFinding  = `{"version":"0","id":"0948ba87-d3b8-c6d4-f2da-732a1example","detail-type":"Macie Finding","source":"aws.macie","account":"123456789012","time":"2021-04-29T23:12:15Z","region":"us-east-1","resources":[],"detail":{"schemaVersion":"1.0","accountId":"123456789012","type":"Policy:IAMUser/S3BucketEncryptionDisabled","severity":{"score":1,"description":"Low"},"count":2}}`
	rfcImage      = `{"Image":{"Width":800,"Height":600,"Title":"View from 15th Floor","Thumbnail":{"Url":"http://www.example.com/image/481989943","Height":125,"Width":100},"Animated":false,"IDs":[116,943,234,38793]}}`
	employees     = `{"employees":[[{"firstName":"John","lastName":"Doe","ids":[1234,1000,9999]},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones","ids":[]}]]}`

	ec2Termination    = `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`
	resourcesARNs     = `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f","arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`
	cloudTrailTrigger = `{"source":["aws.ecr"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["ecr.amazonaws.com"],"eventName":["PutImage"],"errorCode":[{"exists":false}]}}`
	pipeFilter        = `{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"event":{"M":{"type":{"S":["ScanCompleted","ImageReferenced","ScanFailed"]}}}}}}`

	// After testACWithExistFalseRule: names shortened keeping their order
	// (p.id < res.ctx.ci.name < state), which decides which array element
	// the exists:false leaf is checked in.
	taskRule   = `{"rc":{"ti":{"state":["ACTIVE"],"p":{"id":["X"]},"res":{"ctx":{"ci":{"name":[{"exists":false}]}}}}}}`
	taskAbsent = `{"rc":{"ti":{"state":["ACTIVE"],"p":{"id":["X"]},"res":{"ctx":{"ci":{"abc":[{"exists":false}]}}}}}}`
	taskEvent1 = `{"rc":{"ti":[{"state":"ACTIVE","p":{"id":"X"},"res":[{"focus":"F"}]},{"state":"INACTIVE","p":{"id":"Y"},"res":[{"ctx":{"ci":[{"name":"Dummy"}]}}]}]}}`
	taskEvent2 = `{"rc":{"ti":[{"state":"ACTIVE","p":{"id":"X"},"res":[{"ctx":{"ci":[{"name":"N"}]}}]},{"state":"INACTIVE","p":{"id":"Y"},"res":[{"ctx":{"ci":[{"name":"N"}]}}]}]}}`
)

type matchCase struct {
	name, source, pattern, event string
	want                         bool
}

var matchCases = []matchCase{
	// Fields, nesting and literal values.
	{"ec2 termination pattern matches the terminated event", docPatterns, ec2Termination, ec2Terminated, true},
	{"ec2 termination pattern skips the pending event", docPatterns, ec2Termination, ec2Pending, false},
	{"field must appear with the same nesting", docSyntax, `{"detail":{"state":["terminated"]}}`, `{"state":"terminated"}`, false},
	{"fields not in the pattern are ignored", docConsider, `{"source":["aws.ec2"]}`, ec2Terminated, true},
	{"any value of the list matches", docValues, `{"source":["aws.ec2","aws.fargate"]}`, `{"source":"aws.fargate"}`, true},
	{"no value of the list matches", docValues, `{"source":["aws.ec2","aws.fargate"]}`, `{"source":"aws.s3"}`, false},
	{"strings match without case-folding", docConsider, `{"source":["AWS.EC2"]}`, ec2Terminated, false},
	{"a quoted string is not a number", docConsider, `{"n":["5"]}`, `{"n":5}`, false},
	{"macie severity score and count", docFieldVals, `{"source":["aws.macie"],"detail-type":["Macie Finding"],"detail":{"severity":{"score":[1]},"count":[2]}}`, macieFinding, true},
	{"macie count differs", docFieldVals, `{"source":["aws.macie"],"detail":{"count":[3]}}`, macieFinding, false},
	{"number literal matches the same number", rulerSimple, `{"a":[1]}`, `{"a":1}`, true},
	{"string literal does not match true", rulerSimple, `{"x":["X"]}`, `{"x":true}`, false},
	{"number literal does not match true", rulerSimple, `{"a":[1]}`, `{"x":true}`, false},
	{"numbers compare numerically", rulerNumber, `{"x":[300]}`, `{"x":3.0e2}`, true},
	{"nested numbers and a list of numbers", rulerCombos, `{"Image":{"Width":[800],"Thumbnail":{"Height":[125,300]}}}`, rfcImage, true},
	{"false literal matches false", rulerCombos, `{"Image":{"Animated":[false]}}`, rfcImage, true},
	{"true literal does not match false", rulerCombos, `{"Image":{"Animated":[true]}}`, rfcImage, false},
	{"a key given twice: the last one counts (first value)", rulerDupKey, `{"x":["y"],"x":["z"]}`, `{"x":"y"}`, false},
	{"a key given twice: the last one counts (last value)", docDupKey, `{"x":["y"],"x":["z"]}`, `{"x":"z"}`, true},

	// null and the empty string.
	{"null matches null", docNull, `{"detail":{"responseElements":[null]}}`, asgLaunch, true},
	{"empty string matches empty string", docNull, `{"detail":{"eventVersion":[""]}}`, asgLaunch, true},
	{"empty string does not match null", docNull, `{"detail":{"responseElements":[""]}}`, asgLaunch, false},
	{"null does not match empty string", docNull, `{"detail":{"eventVersion":[null]}}`, asgLaunch, false},
	{"autoscaling field matching on null", docFieldVals, `{"source":["aws.autoscaling"],"detail-type":["EC2 Instance Launch Successful"],"detail":{"responseElements":[null]}}`, asgLaunch, true},

	// Arrays in the event.
	{"event array intersects the pattern list", docArrays, resourcesARNs, `{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, true},
	{"event array disjoint from the pattern list", docArrays, resourcesARNs, `{"resources":["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"]}`, false},
	{"primarray: exact match", rulerCorrect + "primarray: exact match", `{"tags":["admin"]}`, `{"tags":["user","admin"]}`, true},
	{"array of objects: a field of one element", rulerArrays, `{"employees":{"firstName":["Anna"]}}`, employees, true},
	{"array of objects: two fields of one element", rulerArrays, `{"employees":{"firstName":["John"],"ids":[1000]}}`, employees, true},
	{"array of objects: fields of two elements", rulerArrays, `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, employees, false},
	{"array of objects: value of another element", rulerArrays, `{"employees":{"firstName":["Anna"],"ids":[1000]}}`, employees, false},
	{"array of objects is no value", rulerArrays, `{"employees":["b"]}`, employees, false},
	{"objarray: exact split", rulerCorrect + "objarray: exact split", `{"d":{"name":["alice"],"status":["active"]}}`, `{"d":[{"name":"alice"},{"status":"active"}]}`, false},
	{"objarray: 3 elem, last valid", rulerCorrect + "objarray: 3 elem, last valid", `{"d":{"a":[{"exists":true}],"b":[{"exists":true}]}}`, `{"d":[{"a":1},{"b":2},{"a":3,"b":4}]}`, true},
	{"nested: inner split", rulerCorrect + "nested: inner split", `{"u":{"t":{"k":["color"],"v":["blue"]}}}`, `{"u":[{"t":[{"k":"color"},{"v":"blue"}]}]}`, false},
	{"nested: outer same", rulerCorrect + "nested: outer same", `{"d":{"name":[{"exists":true}],"info":{"x":["1"]}}}`, `{"d":[{"name":"alice","info":{"x":"1"}}]}`, true},
	{"mixed: array+scalar match", rulerCorrect + "mixed: array+scalar match", `{"users":{"name":[{"exists":true}]},"version":["1"]}`, `{"users":[{"name":"alice"}],"version":"1"}`, true},
	{"mixed: obj-array split + prim-array", rulerCorrect + "mixed: obj-array split + prim-array", `{"users":{"name":[{"exists":true}],"email":[{"exists":true}]},"tags":["admin"]}`, `{"users":[{"name":"alice"},{"email":"b@x"}],"tags":["admin"]}`, false},

	// prefix.
	{"prefix of a string", docPrefix, `{"time":[{"prefix":"2017-10-02"}]}`, `{"time":"2017-10-02T18:43:48Z"}`, true},
	{"prefix mismatch", docPrefix, `{"time":[{"prefix":"2017-10-02"}]}`, `{"time":"2017-10-03T18:43:48Z"}`, false},
	{"prefix only on string values", docPrefix, `{"n":[{"prefix":"1"}]}`, `{"n":12}`, false},
	{"prefix in an array of objects", rulerCombos, `{"Image":{"Thumbnail":{"Url":[{"prefix":"http"}]}}}`, rfcImage, true},

	// exists.
	{"exists true on a present leaf", docExists, `{"detail":{"state":[{"exists":true}]}}`, ec2Pending, true},
	{"exists true on a missing leaf", docExists, `{"detail":{"state":[{"exists":true}]}}`, ec2CCount, false},
	{"exists true on an object is false", docExists, `{"detail":{"c-count":[{"exists":true}]}}`, ec2CCount, false},
	{"exists false on an object is true", docExists, `{"detail":{"c-count":[{"exists":false}]}}`, ec2CCount, true},
	{"exists true on a scalar", rulerExists, `{"a":[{"exists":true}]}`, `{"a":1}`, true},
	{"exists false on a present scalar", rulerExists, `{"b":[{"exists":false}]}`, `{"b":2}`, false},
	{"exists false on a missing field", rulerExists, `{"b":[{"exists":false}]}`, `{"a":1}`, true},
	{"exists false under a missing parent", rulerExists, `{"detail":{"errorCode":[{"exists":false}]}}`, `{"source":"aws.ecr"}`, true},
	{"exists false where the parent is missing in the chosen element", rulerACExists, taskAbsent, taskEvent1, true},
	{"exists false on a leaf no element has", rulerACExists, taskAbsent, taskEvent2, true},
	{"exists false checked in the element the other fields chose", rulerACExists, taskRule, taskEvent1, true},
	{"exists false fails where that element has the field", rulerACExists, taskRule, taskEvent2, false},
	{"exists true on an empty array is false", rulerCorrect + "primarray: empty prim array", `{"d":{"name":[{"exists":true}],"type":[{"exists":true}]}}`, `{"d":{"name":[],"type":"x"}}`, false},
	{"exists true under an empty array of objects is false", rulerCorrect + "empty array", `{"d":{"a":[{"exists":true}]}}`, `{"d":[]}`, false},
	{"exists false in the element chosen by another field", rulerArrays, `{"employees":{"firstName":["Anna"],"ids":[{"exists":false}]}}`, employees, true},
	{"exists true in the element chosen by another field", rulerArrays, `{"employees":{"firstName":["Anna"],"ids":[{"exists":true}]}}`, employees, false},
	{"exists-false: absent", rulerCorrect + "exists-false: absent", `{"d":{"a":[{"exists":true}],"b":[{"exists":false}]}}`, `{"d":[{"a":1}]}`, true},
	{"exists-false: present", rulerCorrect + "exists-false: present", `{"d":{"a":[{"exists":true}],"b":[{"exists":false}]}}`, `{"d":[{"a":1,"b":2}]}`, false},

	// The project's own CloudTrail scan trigger (template.yaml): a refused PutImage carries an errorCode.
	{"cloudtrail trigger: successful PutImage", docExists, cloudTrailTrigger, `{"source":"aws.ecr","detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"ecr.amazonaws.com","eventName":"PutImage","requestParameters":{"repositoryName":"app"}}}`, true},
	{"cloudtrail trigger: refused PutImage", docExists, cloudTrailTrigger, `{"source":"aws.ecr","detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"ecr.amazonaws.com","eventName":"PutImage","errorCode":"RepositoryNotFoundException"}}`, false},

	// The project's own Pipe filter, on DynamoDB stream records.
	{"pipe filter: completed insert", docPipes, pipeFilter, `{"eventName":"INSERT","dynamodb":{"NewImage":{"event":{"M":{"type":{"S":"ScanCompleted"}}}}}}`, true},
	{"pipe filter: bookkeeping write dropped", docPipes, pipeFilter, `{"eventName":"MODIFY","dynamodb":{"NewImage":{"event":{"M":{"type":{"S":"ScanStarted"}}}}}}`, false},
	{"pipe filter: TTL removal dropped", docPipes, pipeFilter, `{"eventName":"REMOVE","dynamodb":{"OldImage":{"event":{"M":{"type":{"S":"ScanCompleted"}}}}}}`, false},
}
