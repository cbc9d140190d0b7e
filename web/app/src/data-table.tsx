// A table of records: its wrapper (scrolls sideways on a narrow screen), a caption for screen readers, one header row.
import type { ComponentChildren } from 'preact';

/** `columns` are the header cells, in order; `children` are the body's rows. */
export function DataTable(props: { id: string; caption: string; columns: ComponentChildren[]; class?: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class={props.class ?? 'data'} id={props.id}>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((column, i) => (
              <th scope="col" key={i}>
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
