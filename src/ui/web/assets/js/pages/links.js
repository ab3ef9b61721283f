// Social links (SPEC 6): the list, an add form, edit in place, delete after a confirmation.
import {del, get, post, put} from '../api.js';
import {confirmDialog, field, loadError, loading, onSubmit, submitButton, toast} from '../components.js';
import {externalLink, fill, h, icon} from '../dom.js';
import {day} from '../format.js';

const MAX_LINKS = 50;

export function linksPage(main) {
  let links = [];
  const count = h('p', {class: 'meta'});
  const list = h('div', {}, loading());
  const addForm = h('form', {class: 'card', 'aria-labelledby': 'add-title'},
    h('h2', {id: 'add-title'}, icon('plus'), 'Add a link'),
    h('div', {class: 'grid-2'},
      field({label: 'Platform', name: 'platform', maxlength: 50, hint: 'e.g. GitHub, Mastodon (letters, digits, space . _ -).'}),
      field({label: 'URL', name: 'url', type: 'url', maxlength: 2048, placeholder: 'https://', hint: 'An http:// or https:// address.'})),
    h('div', {class: 'form-actions'}, submitButton('Add link')));
  main.append(h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'Links'), count), list, addForm);

  const render = () => {
    count.textContent = `${links.length} of ${MAX_LINKS}`;
    if (!links.length) {
      fill(list, h('div', {class: 'card empty'}, h('p', {}, 'No links yet — add your first below.')));
      return;
    }
    fill(list, h('ul', {class: 'list', 'aria-label': 'Your links'}, links.map(row)));
  };

  const row = (link) => {
    const li = h('li', {});
    const show = () => {
      const edit = h('button', {type: 'button', class: 'btn small', 'aria-label': `Edit ${link.platform}`}, icon('edit'), 'Edit');
      const remove = h('button', {type: 'button', class: 'btn small', 'aria-label': `Delete ${link.platform}`}, icon('trash'), 'Delete');
      edit.addEventListener('click', () => editing());
      remove.addEventListener('click', async () => {
        const yes = await confirmDialog({title: 'Delete this link?', text: `${link.platform}: ${link.url}`});
        if (!yes) return;
        try {
          await del(`/social/links/${link.id}`);
        } catch (err) {
          if (err.status !== 404) {
            toast(err.message, 'error');
            return;
          }
        }
        links = links.filter((l) => l.id !== link.id);
        render();
        toast('Link deleted.', 'success');
      });
      fill(li, h('div', {class: 'row'},
        h('div', {class: 'grow'}, h('p', {class: 'title'}, link.platform), h('p', {class: 'meta'}, externalLink(link.url)),
          h('p', {class: 'meta'}, `Added ${day(link.created_at)}`)),
        h('div', {class: 'tools'}, edit, remove)));
    };
    const editing = () => {
      const cancel = h('button', {type: 'button', class: 'btn'}, 'Cancel');
      const form = h('form', {'aria-label': `Edit ${link.platform}`},
        h('div', {class: 'grid-2'},
          field({label: 'Platform', name: 'platform', value: link.platform, maxlength: 50}),
          field({label: 'URL', name: 'url', type: 'url', value: link.url, maxlength: 2048})),
        h('div', {class: 'form-actions'}, submitButton('Save'), cancel));
      cancel.addEventListener('click', () => {
        show();
        li.querySelector('button').focus();
      });
      onSubmit(form, async ({platform, url}) => {
        const saved = await put(`/social/links/${link.id}`, {platform, url});
        Object.assign(link, saved);
        show();
        li.querySelector('button').focus();
        toast('Link saved.', 'success');
      });
      fill(li, form);
      form.querySelector('input').focus();
    };
    show();
    return li;
  };

  onSubmit(addForm, async ({platform, url}) => {
    const link = await post('/social/links', {platform, url});
    links.push(link);
    addForm.reset();
    render();
    toast('Link added.', 'success');
  });

  const load = async () => {
    fill(list, loading());
    try {
      links = (await get('/social/links')).links;
    } catch (err) {
      fill(list, loadError(err, load));
      return;
    }
    render();
  };
  load();
}
