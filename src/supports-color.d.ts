// supports-color 8 (what @oclif/core decides colours with) ships no types.
declare module 'supports-color' {
  const supportsColor: {stdout: false | {level: number}; stderr: false | {level: number}}
  export default supportsColor
}
