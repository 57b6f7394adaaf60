/**
 * The weak-secret list shared by vial's own secret policy (security/secret.ts) and the doctor,
 * which tries these against a target's signed cookies from outside. Data only: a leaf module.
 */
/**
 * Values seen in tutorials, framework templates and leaked configs. Compared after lowercasing and
 * dropping everything that is not a letter or digit, so "Keyboard Cat", "keyboard-cat" and
 * "KEYBOARD_CAT" are one entry.
 */
export const WEAK_SECRETS: readonly string[] = Object.freeze([
  'secret', 'secretkey', 'mysecret', 'mysecretkey', 'yoursecretkey', 'supersecret', 'supersecretkey',
  'topsecret', 'verysecret', 'verysecretkey', 'sessionsecret', 'cookiesecret', 'jwtsecret', 'appsecret',
  'flasksecret', 'flasksecretkey', 'djangosecret', 'expresssecret', 'vialsecret', 'vialsecretkey',
  's3cr3t', 'shhh', 'changeme', 'changethis', 'changeit', 'replaceme', 'pleasechangeme', 'changemeinproduction',
  'development', 'dev', 'devsecret', 'developmentsecret', 'production', 'prod', 'staging', 'local',
  'test', 'testing', 'testsecret', 'password', 'passw0rd', 'p4ssw0rd', 'letmein', 'admin', 'root',
  'qwerty', 'qwertyuiop', 'asdf', 'asdfghjkl', 'keyboardcat', 'keyboard', 'default', 'defaultsecret',
  'example', 'sample', 'demo', 'foo', 'bar', 'foobar', 'hello', 'helloworld', 'abc', 'abcdef', 'xyz',
  'todo', 'fixme', 'insecure', 'notsecret', 'notasecret', 'nosecret', 'key', 'mykey', 'secretpassword',
  'x', 'a', '0', '1', '12345678', '123456', 'null', 'undefined', 'none', 'empty',
]);
