import Testing

@testable import APIServer

@Suite struct JSONTests {
    @Test func parsesAndWritesRoundTrip() throws {
        let text = #"{"kind":"Pod","n":-12,"d":1.5,"e":1e3,"s":"a\"b\\c\u00e9\ud83d\ude00","a":[true,false,null],"o":{}}"#
        let v = try JSON.parse(text)
        #expect(v["kind"]?.string == "Pod")
        #expect(v["n"]?.int == -12)
        #expect(v["d"] == .double(1.5))
        #expect(v["e"]?.int == 1000)
        #expect(v["s"]?.string == "a\"b\\cé😀")
        #expect(v["a"]?.array == [.bool(true), .bool(false), .null])
        #expect(try JSON.parse(v.serialized()) == v)
        // Key order is kept, so served objects read like the ones sent.
        #expect(v.object?.keys == ["kind", "n", "d", "e", "s", "a", "o"])
    }

    @Test func rejectsBadInputWithOffset() {
        #expect(throws: JSONSyntaxError.self) { try JSON.parse("{\"a\":}") }
        #expect(throws: JSONSyntaxError.self) { try JSON.parse("[1,2") }
        #expect(throws: JSONSyntaxError.self) { try JSON.parse("{} x") }
        do {
            _ = try JSON.parse("{\"a\": tru}")
            Issue.record("accepted an invalid literal")
        } catch {
            #expect(error.offset == 6)
        }
    }

    @Test func equalityIgnoresKeyOrderAndHashAgrees() throws {
        let a = try JSON.parse(#"{"x":1,"y":[1,2]}"#), b = try JSON.parse(#"{"y":[1,2],"x":1.0}"#)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
    }
}

@Suite struct PatchTests {
    let pod = try! JSON.parse(#"""
        {"kind":"Pod","metadata":{"name":"p","labels":{"a":"1","b":"2"},"finalizers":["x"]},
         "spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"E","value":"1"}]},{"name":"b","image":"b:1"}],
                 "tolerations":[{"key":"k","operator":"Exists"}]}}
        """#)

    @Test func mergePatchFollowsRFC7386() {
        let out = pod.mergePatched(with: .lit(#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#))
        #expect(out["metadata"]?["labels"] == .obj(["b": "2", "c": "3"]))
        // Lists are replaced wholesale.
        let out2 = pod.mergePatched(with: .obj(["spec": .obj(["containers": [.obj(["name": "z", "image": "z"])]])]))
        #expect(out2["spec"]?["containers"]?.array?.count == 1)
    }

    @Test func jsonPatchOperationsAndErrors() throws {
        let ops = try JSON.parse(#"""
            [{"op":"replace","path":"/spec/containers/0/image","value":"a:2"},
             {"op":"add","path":"/metadata/labels/c","value":"3"},
             {"op":"remove","path":"/metadata/labels/a"},
             {"op":"test","path":"/metadata/name","value":"p"},
             {"op":"copy","from":"/metadata/name","path":"/metadata/annotations"}]
            """#)
        let out = try pod.jsonPatched(with: ops)
        #expect(out["spec"]?["containers"]?.array?[0]["image"]?.string == "a:2")
        #expect(out["metadata"]?["labels"] == .obj(["b": "2", "c": "3"]))
        #expect(out["metadata"]?["annotations"]?.string == "p")
        #expect(throws: PatchError.self) { try pod.jsonPatched(with: [.obj(["op": "remove", "path": "/nope/x"])]) }
        #expect(throws: PatchError.self) { try pod.jsonPatched(with: [.obj(["op": "test", "path": "/metadata/name", "value": "q"])]) }
    }

    @Test func strategicMergeMergesContainersByName() throws {
        let patch = try JSON.parse(#"{"spec":{"containers":[{"name":"b","image":"b:2"},{"name":"c","image":"c:1"}]}}"#)
        let out = try pod.strategicPatched(with: patch, definition: "core.Pod")
        let cs = out["spec"]?["containers"]?.array ?? []
        #expect(cs.map { $0["name"]?.string ?? "" } == ["a", "b", "c"])
        #expect(cs[1]["image"]?.string == "b:2")
        // A list without merge metadata (tolerations) is replaced.
        let t = try pod.strategicPatched(with: try JSON.parse(#"{"spec":{"tolerations":[{"key":"z","operator":"Exists"}]}}"#), definition: "core.Pod")
        #expect(t["spec"]?["tolerations"]?.array?.count == 1)
        #expect(t["spec"]?["tolerations"]?.array?[0]["key"]?.string == "z")
    }

    @Test func strategicMergeDirectives() throws {
        let del = try pod.strategicPatched(with: try JSON.parse(#"{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}"#), definition: "core.Pod")
        #expect(del["spec"]?["containers"]?.array?.map { $0["name"]?.string ?? "" } == ["b"])
        let env = try pod.strategicPatched(
            with: try JSON.parse(#"{"spec":{"containers":[{"name":"a","env":[{"name":"F","value":"2"}]}]}}"#), definition: "core.Pod")
        #expect(env["spec"]?["containers"]?.array?[0]["env"]?.array?.count == 2)
        let fin = try pod.strategicPatched(with: try JSON.parse(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}}"#), definition: "core.Pod")
        #expect(fin["metadata"]?["finalizers"]?.array == [])
        let order = try pod.strategicPatched(
            with: try JSON.parse(#"{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}}"#), definition: "core.Pod")
        #expect(order["spec"]?["containers"]?.array?.map { $0["name"]?.string ?? "" } == ["b", "a"])
        let replaced = try pod.strategicPatched(with: try JSON.parse(#"{"metadata":{"labels":{"$patch":"replace","z":"9"}}}"#), definition: "core.Pod")
        #expect(replaced["metadata"]?["labels"] == .obj(["z": "9"]))
        #expect(throws: PatchError.self) {
            try pod.strategicPatched(with: try JSON.parse(#"{"spec":{"containers":[{"image":"x"}]}}"#), definition: "core.Pod")
        }
    }
}

@Suite struct SelectorTests {
    @Test func labelSelectorSyntax() throws {
        let s = try LabelSelector(parsing: "app=web, tier!=db,env in (a, b),!canary,zone")
        #expect(s.matches(["app": "web", "env": "a", "zone": "z"]))
        #expect(!s.matches(["app": "web", "env": "c", "zone": "z"]))
        #expect(!s.matches(["app": "web", "env": "a", "zone": "z", "canary": "1"]))
        #expect(!s.matches(["app": "web", "env": "a", "zone": "z", "tier": "db"]))
        #expect(throws: APIError.self) { try LabelSelector(parsing: "a in b") }
    }

    @Test func fieldSelectorsKubeletsUse() throws {
        let pod = try JSON.parse(#"{"kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}}"#)
        #expect(try FieldSelector(parsing: "spec.nodeName=n1,status.phase!=Failed").matches(pod))
        #expect(try !FieldSelector(parsing: "metadata.name=q").matches(pod))
        #expect(throws: APIError.self) { try FieldSelector(parsing: "spec.bogus=1").validate(kind: "Pod", apiVersion: "v1") }
    }
}

@Suite struct ProtobufTests {
    /// A ConfigMap as client-go's typed client encodes it: magic, runtime.Unknown{typeMeta, raw}.
    @Test func decodesTypedClientBodies() throws {
        func field(_ n: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(n << 3 | 2), UInt8(bytes.count)] + bytes }
        func str(_ n: Int, _ s: String) -> [UInt8] { field(n, Array(s.utf8)) }
        let meta = str(1, "cfg") + str(2, "") + str(3, "") + field(8, [])  // zero values Go writes anyway
        let entry = str(1, "a") + str(2, "1")
        let raw = field(1, meta) + field(2, entry) + field(2, str(1, "b") + str(2, ""))
        let body = [0x6B, 0x38, 0x73, 0x00] + field(1, str(1, "v1") + str(2, "ConfigMap")) + field(2, raw)
        let obj = try KubeProtobuf.shared.decodeBody(body)
        #expect(obj == .lit(#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg"},"data":{"a":"1","b":""}}"#))
        #expect(throws: ProtobufError.self) { try KubeProtobuf.shared.decodeBody([0x6B, 0x38, 0x73, 0x00] + field(2, [0x0A, 0x7F])) }
        #expect(throws: ProtobufError.self) { try KubeProtobuf.shared.decodeBody(Array("{}".utf8)) }
    }
}
