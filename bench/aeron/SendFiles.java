// bench/race.ts's Aeron sender for many files in one JVM: runs the jar's own io.aeron.samples.FileSender
// for each file named on the command line, one after another (each one connects to the already running
// MediaDriver, adds a new exclusive publication, waits until connected, offers the file and closes), so
// 20 objects cost one JVM start instead of 20. Compiled by race.ts with javac against aeron-all.
public final class SendFiles {
  public static void main(final String[] args) throws Exception {
    for (final String file : args) {
      io.aeron.samples.FileSender.main(new String[] {file});
    }
  }
}
