// Lints a chart (strict) and renders it once per values file, writing each rendering to
// <out>/<name>.yaml. Run as a single-file program: java -cp <helm-java jars> HelmCheck.java
//   <chart dir> <out dir> <name>=<values file | -> ...
// Exit 1 with the lint messages when lint fails, 2 when a rendering fails.
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.nio.file.Files;
import java.nio.file.Path;

public class HelmCheck {
  public static void main(String[] args) throws Exception {
    Path chart = Path.of(args[0]);
    Path out = Path.of(args[1]);
    Files.createDirectories(out);
    LintResult lint = new Helm(chart).lint().strict().call();
    for (String message : lint.getMessages()) System.out.println("lint: " + message);
    if (lint.isFailed()) System.exit(1);
    for (int i = 2; i < args.length; i++) {
      String[] spec = args[i].split("=", 2);
      var template = new Helm(chart).template().withName("sluice").withNamespace("data");
      if (!spec[1].equals("-")) template = template.withValuesFile(Path.of(spec[1]));
      try {
        Files.writeString(out.resolve(spec[0] + ".yaml"), template.call());
      } catch (Exception e) {
        System.err.println("render " + spec[0] + ": " + e.getMessage());
        System.exit(2);
      }
      System.out.println("rendered " + spec[0]);
    }
  }
}
