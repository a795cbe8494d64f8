// Parses each Groovy file given (a Jenkinsfile) to its syntax tree: no class resolution, no
// execution, so Jenkins' steps need not exist here. A syntax error exits non-zero with its place.
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

args.each { path ->
    def unit = new CompilationUnit()
    unit.addSource(new File(path))
    unit.compile(Phases.CONVERSION)
    println "groovy syntax ok: ${path}"
}
