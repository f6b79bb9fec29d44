# A real trace backend for the tracing tests (tests/e2e/test_traces.py): the Zipkin server,
# pinned, from Maven Central, run with the machine's Java 17+ (in-memory storage).
#   make trace-backend - fetch the jar into .tools/zipkin/ (nothing to do once it is there)
ZIPKIN_VERSION := 3.5.1
ZIPKIN_DIR := .tools/zipkin
ZIPKIN_JAR := $(ZIPKIN_DIR)/zipkin-server-$(ZIPKIN_VERSION)-exec.jar

.PHONY: trace-backend

trace-backend: $(ZIPKIN_JAR)

$(ZIPKIN_JAR):
	@command -v mvn >/dev/null || { echo "make trace-backend: Maven (mvn) is needed to fetch the Zipkin server from Maven Central (apt-get install maven)" >&2; exit 1; }
	@command -v java >/dev/null || { echo "make trace-backend: Java 17+ is needed to run the Zipkin server (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	mvn -q -B dependency:copy -Dartifact=io.zipkin:zipkin-server:$(ZIPKIN_VERSION):jar:exec -DoutputDirectory=$(ZIPKIN_DIR)
	@test -s $@ || { echo "make trace-backend: mvn did not produce $@" >&2; exit 1; }
