// Reads a JSON list of texts on stdin; prints, for each, Twilio's calculator's verdict as JSON:
// [encoding, segments] for the text as given, and [encoding, segments] with Twilio's Smart Encoding emulated.
const { SegmentedMessage } = require("sms-segments-calculator");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const verdicts = JSON.parse(input).map((text) => {
    const plain = new SegmentedMessage(text, "auto", false);
    const smart = new SegmentedMessage(text, "auto", true);
    return [plain.encodingName, plain.segmentsCount, smart.encodingName, smart.segmentsCount];
  });
  process.stdout.write(JSON.stringify(verdicts));
});
